package custody_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// memStore is an in-memory store.Store without versions, for fuzzing.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) info(key string, b []byte) store.ObjectInfo {
	sum := sha256.Sum256(b)
	return store.ObjectInfo{Key: key, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Checksum: base64.StdEncoding.EncodeToString(sum[:])}
}

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok && opts.IfNotExists {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, store.ErrExists)
	}
	m.objs[key] = b
	return m.info(key, b), nil
}

func (m *memStore) get(key string, opts store.GetOptions) ([]byte, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok || opts.VersionID != "" {
		return nil, fmt.Errorf("%s: %w", key, store.ErrNotFound)
	}
	return b, nil
}

func (m *memStore) Get(ctx context.Context, key string, opts store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	b, err := m.get(key, opts)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	return io.NopCloser(bytes.NewReader(b)), m.info(key, b), nil
}

func (m *memStore) Head(ctx context.Context, key string, opts store.GetOptions) (store.ObjectInfo, error) {
	b, err := m.get(key, opts)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return m.info(key, b), nil
}

func (m *memStore) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	m.mu.Lock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(store.ObjectInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Versions(ctx context.Context, key string) ([]store.Version, error) {
	b, err := m.get(key, store.GetOptions{})
	if err != nil {
		return nil, nil
	}
	return []store.Version{{IsLatest: true, Size: int64(len(b))}}, nil
}

func (m *memStore) Describe() string { return "mem://" }

// fuzzChain builds a two-manifest chain with one object in each and
// returns the store, the signer and the second manifest's key, run id and
// exact bytes.
func fuzzChain(f *testing.F) (st *memStore, s signing.Signer, key2, run2 string, raw2 []byte) {
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	st = newMemStore()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i, run := range []string{"run-1", "run-2"} {
		c, err := custody.Load(ctx, st, "s", s.Public())
		if err != nil {
			f.Fatal(err)
		}
		data := []byte(fmt.Sprintf("log line %d\n", i))
		okey := manifest.ObjectsPrefix("s", run) + "a.log"
		info, err := st.Put(ctx, okey, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
		if err != nil {
			f.Fatal(err)
		}
		start := t0.Add(time.Duration(i) * time.Hour)
		m := &manifest.Manifest{
			Schema: manifest.SchemaV1, RunID: run,
			Window:    manifest.Window{Start: start, End: start.Add(time.Hour)},
			StartedAt: start, FinishedAt: start,
			Exporter: manifest.Exporter{Name: "t", Version: "t", Host: "t"},
			Store:    "mem://", Source: manifest.Source{Type: "dir", Location: "/x"},
			Objects: []manifest.Object{{
				Key: okey, Size: info.Size, SHA256: info.SHA256,
				Checksum: manifest.Checksum{Algorithm: "SHA256", Type: manifest.ChecksumFullObject, Value: info.Checksum},
				Source:   manifest.Provenance{ID: "a.log", Path: "a.log", Size: info.Size, Modified: start},
			}},
		}
		if i == 0 {
			m.Window.Start = time.Unix(0, 0).UTC()
		}
		e, err := c.Append(ctx, st, s, m, store.PutOptions{})
		if err != nil {
			f.Fatal(err)
		}
		key2, run2 = e.Key, run
	}
	raw2, _ = st.get(key2, store.GetOptions{})
	return st, s, key2, run2, bytes.Clone(raw2)
}

// FuzzVerify stores arbitrary bytes as the newest manifest (and its
// signature) of a good chain and verifies: Verify must not panic nor give
// up (the store never fails), and any manifest bytes other than the signed
// ones must be reported.
func FuzzVerify(f *testing.F) {
	st, s, key2, run2, raw2 := fuzzChain(f)
	sigKey := manifest.SignatureKey(key2, run2)
	sig2, _ := st.get(sigKey, store.GetOptions{})
	f.Add(raw2, bytes.Clone(sig2))
	f.Add(bytes.Replace(raw2, []byte(`"a.log"`), []byte(`"../a.log"`), -1), bytes.Clone(sig2))
	f.Add(bytes.Replace(raw2, []byte(`"run-2"`), []byte(`"../../x"`), -1), bytes.Clone(sig2))
	f.Add(bytes.Replace(raw2, []byte(`s/objects/`), []byte(`s//objects/`), -1), bytes.Clone(sig2))
	f.Add([]byte(`{}`), []byte(`{}`))
	f.Add(raw2[:len(raw2)/2], sig2[:len(sig2)/2])
	f.Fuzz(func(t *testing.T, raw, sig []byte) {
		fs := newMemStore()
		st.mu.Lock()
		for k, v := range st.objs {
			fs.objs[k] = v
		}
		st.mu.Unlock()
		fs.objs[key2] = raw
		run := run2
		if m, err := manifest.Parse(raw); err == nil && m.RunID != "" {
			run = m.RunID
		}
		delete(fs.objs, sigKey)
		if k := manifest.SignatureKey(key2, run); store.ValidateKey(k) == nil {
			fs.objs[k] = sig
		}
		hang := time.AfterFunc(30*time.Second, func() { panic(fmt.Sprintf("verify hangs on %q / %q", raw, sig)) })
		defer hang.Stop()
		for _, deep := range []bool{false, true} {
			rep, err := custody.Verify(context.Background(), fs, "s", custody.VerifyOptions{PublicKey: s.Public(), Deep: deep})
			if err != nil {
				t.Fatalf("Verify gave up on a store that never fails: %v", err)
			}
			if !bytes.Equal(raw, raw2) && len(rep.Problems) == 0 {
				t.Fatalf("manifest bytes changed, verify reports nothing: %q", raw)
			}
			if rep.ManifestsChecked != 2 {
				t.Fatalf("checked %d manifests, want 2", rep.ManifestsChecked)
			}
		}
	})
}
