package manifest

import (
	"errors"
	"strings"
)

// KeyTransition hands a stream's chain from one signing key to the next.
// It is carried by a manifest of its own (a key transition record) that
// takes the next sequence number, links to the one before like any
// manifest, lists no objects and has an empty window at the previous
// manifest's end. The record is signed twice over its exact bytes: by the
// old key, in the manifest's usual signature sidecar (the old key is the
// chain's key up to and including the record), and by the new key, in a
// second sidecar (TransitionSignatureKey). The manifests after it are
// signed by the new key. Each key is named by its fingerprint and given
// whole (PEM), so a verifier that trusts either key learns the other from
// the record, and can trust it only because the key it trusts signed it.
type KeyTransition struct {
	Old TransitionKey `json:"old"`
	New TransitionKey `json:"new"`
}

// TransitionKey is one key of a transition.
type TransitionKey struct {
	// KeyID is the key's fingerprint (signing.KeyID).
	KeyID string `json:"key_id"`
	// Algorithm is the signature algorithm the key signs with.
	Algorithm string `json:"algorithm"`
	// PublicKey is the public key, PEM (SubjectPublicKeyInfo).
	PublicKey string `json:"public_key"`
}

// TransitionSignatureKey returns the key of the new key's signature of the
// key transition record at manifestKey written by run runID.
func TransitionSignatureKey(manifestKey, runID string) string {
	return SignatureKey(manifestKey, runID+".new")
}

// IsTransitionSignatureKey reports whether key has the form of a new key's
// signature of a transition record (it ends in ".new.sig").
func IsTransitionSignatureKey(key string) bool { return strings.HasSuffix(key, ".new.sig") }

// IsKeyTransition reports whether m is a key transition record.
func (m *Manifest) IsKeyTransition() bool { return m.KeyTransition != nil }

// validate checks the transition on its own and against its manifest.
func (t *KeyTransition) validate(m *Manifest) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, k := range []struct {
		name string
		k    TransitionKey
	}{{"old", t.Old}, {"new", t.New}} {
		if k.k.KeyID == "" || k.k.Algorithm == "" || !strings.Contains(k.k.PublicKey, "-----BEGIN PUBLIC KEY-----") {
			errs = append(errs, errors.New(k.name+": key_id, algorithm and a PEM public_key are required"))
		}
	}
	if t.Old.KeyID != "" && t.Old.KeyID == t.New.KeyID {
		errs = append(errs, errors.New("old and new key are the same key"))
	}
	if m.Sequence < 2 {
		errs = append(errs, errors.New("a key transition cannot be the first manifest of a stream"))
	}
	if len(m.Objects) > 0 || len(m.Failures) > 0 || len(m.Skipped) > 0 || m.Part != nil {
		errs = append(errs, errors.New("a key transition record lists no objects, failures, skipped items or part"))
	}
	if !m.Window.Start.Equal(m.Window.End) {
		errs = append(errs, errors.New("a key transition record has an empty window"))
	}
	return errors.Join(errs...)
}
