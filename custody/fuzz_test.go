package custody_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// FuzzManifestBytes stores arbitrary bytes as the newest manifest (and its
// signature) of a good chain and verifies: Verify must not panic nor give
// up (the store never fails), and any manifest bytes other than the signed
// ones must be reported.
func FuzzManifestBytes(f *testing.F) {
	good := newFixture(f, 2, 1)
	key2, sigKey := mkey(2), good.sigKey(2)
	raw2, sig2 := good.st.Bytes(key2), good.st.Bytes(sigKey)
	f.Add(raw2, sig2)
	f.Add(bytes.Replace(raw2, []byte(`f0.log"`), []byte(`../f0.log"`), -1), sig2)
	f.Add(bytes.Replace(raw2, []byte(`"run-2"`), []byte(`"../../x"`), -1), sig2)
	f.Add(bytes.Replace(raw2, []byte(`s/objects/`), []byte(`s//objects/`), -1), sig2)
	f.Add([]byte(`{}`), []byte(`{}`))
	f.Add(raw2[:len(raw2)/2], sig2[:len(sig2)/2])
	f.Fuzz(func(t *testing.T, raw, sig []byte) {
		st := clone(good.st)
		st.PutRaw(key2, raw)
		run := "run-2"
		if m, err := manifest.Parse(raw); err == nil && m.RunID != "" {
			run = m.RunID
		}
		st.Delete(context.Background(), sigKey)
		if k := manifest.SignatureKey(key2, run); store.ValidateKey(k) == nil {
			st.PutRaw(k, sig)
		}
		for _, deep := range []bool{false, true} {
			rep := verifyBounded(t, st, custody.VerifyOptions{PublicKey: good.signer.Public(), Deep: deep})
			if !bytes.Equal(raw, raw2) && len(rep.Problems) == 0 {
				t.Fatalf("manifest bytes changed, verify reports nothing: %q", raw)
			}
			if rep.ManifestsChecked != 2 {
				t.Fatalf("checked %d manifests, want 2", rep.ManifestsChecked)
			}
		}
	})
}

// clone copies every key of st into a new store.
func clone(st *memstore.Store) *memstore.Store {
	c := memstore.New(memstore.Options{Name: "archive"})
	st.List(context.Background(), "", func(oi store.ObjectInfo) error { //nolint:errcheck // never fails
		c.PutRaw(oi.Key, st.Bytes(oi.Key))
		return nil
	})
	return c
}

// verifyBounded verifies and checks the report's invariants: it completes
// (in bounded time) without an error on a store that never fails, its
// counts are consistent, anything counted invalid is explained by a
// problem, and a checkpoint is offered only for a clean chain.
func verifyBounded(t *testing.T, st store.Store, opts custody.VerifyOptions) *custody.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := custody.Verify(ctx, st, "s", opts)
	if err != nil {
		t.Fatalf("Verify gave up on a store that never fails: %v", err)
	}
	switch {
	case rep.ManifestsValid < 0 || rep.ManifestsValid > rep.ManifestsChecked || rep.ObjectsValid < 0 || rep.ObjectsValid > rep.ObjectsChecked:
		t.Fatalf("counts out of range: %+v", rep)
	case (rep.ManifestsValid < rep.ManifestsChecked || rep.ObjectsValid < rep.ObjectsChecked) && len(rep.Problems) == 0:
		t.Fatalf("something counted invalid with no problem: %+v", rep)
	case rep.HeadSHA256 != "" && len(rep.Problems) > 0:
		t.Fatalf("checkpoint offered for a chain with problems: %+v", rep)
	case rep.HeadSHA256 == "" && rep.NoCheckpoint == "":
		t.Fatalf("no checkpoint and no reason: %+v", rep)
	case len(rep.OrphanKeys) > 100 || rep.Orphans < len(rep.OrphanKeys):
		t.Fatalf("orphans %d, keys %d", rep.Orphans, len(rep.OrphanKeys))
	}
	return rep
}

// Operations FuzzVerify applies to a good chain, each as 3 bytes: the
// operation, the key it targets (one of the chain's keys), a parameter.
const (
	opReplace    = iota // replace the key's bytes with the payload
	opDelete            // delete the key
	opEndless           // the key's content never ends
	opUnreadable        // the key cannot be read (a link, a FIFO)
	opSwap              // the first read gets the bytes, later ones the payload
	opOddKey            // put the payload under an arbitrary key of the stream
	opFarKey            // put the payload as a manifest with a sequence from the payload
	opFlip              // flip a bit of the key's bytes
	opCount
)

// FuzzVerify drives the verifier over an adversarial in-memory store: a
// good chain of 3 manifests and 6 objects, changed by a fuzzed list of
// operations an intruder with write access could perform. Verify must
// finish, without error, within bounded time and memory, with consistent
// counts; and a change to what the chain signed must be reported.
func FuzzVerify(f *testing.F) {
	good := newFixture(f, 3, 2)
	var keys []string
	good.st.List(context.Background(), "", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil }) //nolint:errcheck // never fails
	f.Add([]byte{}, []byte{})
	for op := range byte(opCount) {
		for target := range byte(len(keys)) {
			f.Add([]byte{op, target, 7}, []byte("s/objects/run-1/x\xff\n"))
		}
	}
	f.Add([]byte{opFarKey, 0, 0}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{opDelete, 0, 0, opEndless, 3, 0, opOddKey, 0, 9}, []byte("s/manifests/00000000000000000009.json"))
	f.Fuzz(func(t *testing.T, ops, payload []byte) {
		st := clone(good.st)
		mustReport := false
		for i := 0; i+2 < len(ops) && i < 3*16; i += 3 {
			op, key, param := ops[i]%opCount, keys[int(ops[i+1])%len(keys)], ops[i+2]
			orig := good.st.Bytes(key)
			switch op {
			case opReplace:
				st.PutRaw(key, payload)
				mustReport = mustReport || !bytes.Equal(payload, orig)
			case opDelete:
				st.Delete(context.Background(), key)
				// Cutting off the head is invisible without a checkpoint.
				mustReport = mustReport || key != mkey(3)
			case opEndless:
				st.SetFault(key, memstore.Fault{Size: int64(param), Body: func(int) io.Reader { return zeroes{} }})
				mustReport = true
			case opUnreadable:
				st.SetFault(key, memstore.Fault{Err: fmt.Errorf("fuzzed: %w", store.ErrUnreadable)})
				mustReport = true
			case opSwap:
				b := bytes.Clone(payload)
				st.SetFault(key, memstore.Fault{Size: int64(len(orig)), Body: func(n int) io.Reader {
					if n == 0 {
						return bytes.NewReader(orig)
					}
					return bytes.NewReader(b)
				}})
			case opOddKey:
				st.PutRaw("s/"+string(payload[:min(int(param), len(payload))]), payload)
			case opFarKey:
				var seq uint64
				if len(payload) >= 8 {
					seq = binary.BigEndian.Uint64(payload)
				}
				st.PutRaw(mkey(max(seq, 4)), payload)
			case opFlip:
				if b := st.Bytes(key); len(b) > 0 {
					b[int(param)%len(b)] ^= 1 << (param % 8)
					st.PutRaw(key, b)
					// A flip in a signature's base64 padding bits may decode
					// to the same signature; anything else must be reported.
					if !bytes.HasSuffix([]byte(key), []byte(".sig")) {
						mustReport = true
					}
				}
			}
		}
		for _, deep := range []bool{false, true} {
			rep := verifyBounded(t, st, custody.VerifyOptions{PublicKey: good.signer.Public(), Deep: deep})
			if mustReport && len(rep.Problems) == 0 {
				t.Fatalf("ops %v changed the signed chain, verify reports nothing: %+v", ops, rep)
			}
			if len(ops) < 3 && (len(rep.Problems) != 0 || rep.ManifestsValid != 3 || rep.ObjectsValid != 6) {
				t.Fatalf("untouched chain: %+v", rep)
			}
		}
	})
}
