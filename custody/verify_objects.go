package custody

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// checkObjects queues the checks of a manifest's objects; Verify waits
// for all of them at the end.
func (v *verifier) checkObjects(seq uint64, objects []manifest.Object) {
	var total int64
	for _, o := range objects {
		total += max(o.Size, 0)
	}
	v.opts.Observer.Total(len(objects), total)
	for _, o := range objects {
		v.claim(o.Key)
		v.objs.Go(func() error {
			probs, n, err := v.checkObject(v.objsCtx, o)
			if err != nil {
				return fmt.Errorf("verify %s: %w", o.Key, err)
			}
			v.opts.Observer.Done(1, max(o.Size-n, 0))
			v.mu.Lock()
			v.rep.ObjectsChecked++
			v.rep.Bytes += n
			if len(probs) > 0 {
				v.badObjs++
			}
			for _, p := range probs {
				p.Sequence = seq
				p.Key = o.Key
				v.rep.Problems = append(v.rep.Problems, p)
			}
			v.mu.Unlock()
			return nil
		})
	}
}

func expectedChecksum(o manifest.Object) string {
	if o.Checksum.Type == manifest.ChecksumComposite {
		c, err := store.CompositeChecksum(o.Checksum.Parts)
		if err != nil {
			return "invalid part checksums"
		}
		return c
	}
	c, err := store.ChecksumOfHex(o.SHA256)
	if err != nil {
		return "invalid sha256"
	}
	return c
}

// checkObject returns the problems of one object and the bytes read.
func (v *verifier) checkObject(ctx context.Context, o manifest.Object) ([]Problem, int64, error) {
	var probs []Problem
	add := func(kind, format string, a ...any) {
		probs = append(probs, Problem{Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}
	if want := expectedChecksum(o); want != o.Checksum.Value {
		add(KindObjectChecksum, "recorded checksum %s does not match the recorded parts/sha256 (%s)", o.Checksum.Value, want)
	}
	// The latest version first: in the common case it is the archived one.
	// When the bytes are to be read, the same request reads them: one GET
	// per object instead of a HEAD and a GET.
	var (
		body io.ReadCloser
		info store.ObjectInfo
		err  error
	)
	if v.read {
		body, info, err = v.st.Get(ctx, o.Key, store.GetOptions{})
		if err == nil && o.VersionID != "" && info.VersionID != o.VersionID {
			body.Close()
			body = nil
		}
	} else {
		info, err = v.st.Head(ctx, o.Key, store.GetOptions{})
	}
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	switch {
	case isUnreadable(err):
		add(KindObjectUnreadable, "%v", err)
		return probs, 0, nil
	case errors.Is(err, store.ErrInvalidKey):
		// Only a tampered manifest records such a key: report it, do not
		// give up on the rest of the archive.
		add(KindObjectMissing, "recorded key is not a valid object key, so no object can be there")
		return probs, 0, nil
	case err == nil && (o.VersionID == "" || info.VersionID == o.VersionID):
	case err == nil || errors.Is(err, store.ErrNotFound):
		if o.VersionID == "" {
			add(KindObjectMissing, "no object at this key")
			return probs, 0, nil
		}
		vs, verr := v.st.Versions(ctx, o.Key)
		if verr != nil {
			return nil, 0, verr
		}
		if len(vs) > 0 && vs[0].IsLatest && vs[0].VersionID != o.VersionID {
			if vs[0].DeleteMarker {
				add(KindObjectDeleteMarker, "a delete marker (version %s) hides archived version %s", vs[0].VersionID, o.VersionID)
			} else {
				add(KindObjectSuperseded, "latest version is %s, archived version is %s: readers of the latest version get other bytes", vs[0].VersionID, o.VersionID)
			}
		}
		info, err = v.st.Head(ctx, o.Key, store.GetOptions{VersionID: o.VersionID})
		if errors.Is(err, store.ErrNotFound) {
			add(KindObjectMissing, "archived version %s is gone", o.VersionID)
			return probs, 0, nil
		}
		if isUnreadable(err) {
			add(KindObjectUnreadable, "%v", err)
			return probs, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, err
	}
	if info.Size != o.Size {
		add(KindObjectSize, "expected %d bytes, found %d", o.Size, info.Size)
	}
	switch {
	case info.Checksum != "" && info.Checksum != o.Checksum.Value:
		add(KindObjectChecksum, "expected checksum %s, store reports %s", o.Checksum.Value, info.Checksum)
	case info.Checksum == "" && v.authority:
		// logkeeper always uploads with SHA-256 checksums, which the server
		// keeps: an object without one was put there by someone else.
		add(KindObjectChecksum, "expected checksum %s, store reports no SHA-256 checksum: the object was replaced by an upload logkeeper did not make", o.Checksum.Value)
	}
	probs = append(probs, checkSSE(o, info)...)
	var read int64
	if v.read {
		sum, n, err := v.hash(ctx, o, body)
		switch {
		case errors.Is(err, store.ErrNotFound):
			add(KindObjectMissing, "vanished while being read")
		case err != nil && ctx.Err() != nil:
			return nil, 0, ctx.Err()
		case err != nil:
			add(KindObjectUnreadable, "%v", err)
		case n > o.Size:
			add(KindObjectHash, "expected %d bytes with sha256 %s, the stored object is longer (read stopped after %d bytes)", o.Size, o.SHA256, n)
		case n != o.Size || sum != o.SHA256:
			add(KindObjectHash, "expected sha256 %s (%d bytes), stored bytes hash to %s (%d bytes)", o.SHA256, o.Size, sum, n)
		}
		read = n
	}
	return probs, read, nil
}

// hash reads the archived version of o, from rc when it is already open,
// and returns its SHA-256 and length. It reads at most one byte more than
// the recorded size, so endless content ends the read, and stops when ctx
// ends.
func (v *verifier) hash(ctx context.Context, o manifest.Object, rc io.Reader) (string, int64, error) {
	if rc == nil {
		body, _, err := v.st.Get(ctx, o.Key, store.GetOptions{VersionID: o.VersionID})
		if err != nil {
			return "", 0, err
		}
		defer body.Close()
		rc = body
	}
	h := sha256.New()
	n, err := io.Copy(h, observedReader{io.LimitReader(store.ContextReader(ctx, rc), max(o.Size, 0)+1), v.opts.Observer})
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// checkSSE compares the encryption the store reports with the recorded one.
// Where the store reports none (a server without SSE), nothing is compared.
func checkSSE(o manifest.Object, info store.ObjectInfo) []Problem {
	if info.SSE == nil || info.SSE.Algorithm == "" || o.SSE == nil {
		return nil
	}
	var probs []Problem
	if info.SSE.Algorithm != o.SSE.Algorithm {
		probs = append(probs, Problem{Kind: KindSSEMismatch, Detail: fmt.Sprintf("recorded %s, store reports %s", o.SSE.Algorithm, info.SSE.Algorithm)})
	}
	if p, bad := kmsKeyProblem(o.SSE, info.SSE.KMSKeyID); bad {
		probs = append(probs, p)
	}
	if info.SSE.Context != nil {
		keys := make([]string, 0, len(o.SSE.Context))
		for k := range o.SSE.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got, ok := info.SSE.Context[k]; !ok || got != o.SSE.Context[k] {
				probs = append(probs, Problem{Kind: KindEncryptionContext, Detail: fmt.Sprintf("context %s: recorded %q, store reports %q", k, o.SSE.Context[k], got)})
			}
		}
		for k := range info.SSE.Context {
			if _, ok := o.SSE.Context[k]; !ok && !strings.HasPrefix(k, "aws:") {
				probs = append(probs, Problem{Kind: KindEncryptionContext, Detail: fmt.Sprintf("context %s=%q reported by the store is not recorded", k, info.SSE.Context[k])})
			}
		}
	}
	return probs
}

// observedReader reports the bytes read through it.
type observedReader struct {
	r   io.Reader
	obs Observer
}

func (o observedReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.obs.Done(0, int64(n))
	return n, err
}
