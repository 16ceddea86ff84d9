package bundle

import (
	"crypto"
	"slices"
	"sort"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/manifest"
)

// TransitionsDir is the bundle folder of the chain's key transition
// records (manifest.KeyTransition): all of them, so that one trusted key
// of the chain's history verifies every bundled manifest.
const TransitionsDir = "transitions"

// KindKeyTransition is a bundled key transition record that is not signed
// by both of its keys, or does not hand over from the key before it.
const KindKeyTransition = "key_transition_invalid"

// Transition is one bundled key transition record, with the old key's
// signature and the new key's.
type Transition struct {
	Sequence     uint64 `json:"sequence"`
	Key          string `json:"key"`
	SHA256       string `json:"sha256"`
	Path         string `json:"path"`
	Signature    string `json:"signature"`
	NewSignature string `json:"new_signature"`
}

// bundleKeys is the key history the bundle's transitions tell, from the
// trusted key: span i runs after transition i-1 up to transition i.
type bundleKeys struct {
	seqs    []uint64
	pubs    []crypto.PublicKey
	ids     []string
	trusted []bool
}

// at returns the key current at sequence n and its id, nil when no
// trusted key reaches it.
func (k *bundleKeys) at(n uint64) (crypto.PublicKey, string) {
	i := sort.Search(len(k.seqs), func(i int) bool { return k.seqs[i] >= n })
	if !k.trusted[i] {
		return nil, k.ids[i]
	}
	return k.pubs[i], k.ids[i]
}

// all returns the trusted keys.
func (k *bundleKeys) all() map[string]crypto.PublicKey {
	out := map[string]crypto.PublicKey{}
	for i, p := range k.pubs {
		if k.trusted[i] && p != nil {
			out[k.ids[i]] = p
		}
	}
	return out
}

// checkTransitions builds the key history from the bundled transitions,
// checking each (both signatures, keys as stated, handing over from the
// key before it), trusting the spans the trusted key pub reaches.
func (v *verifier) checkTransitions(ix *Index, pub crypto.PublicKey) *bundleKeys {
	id, _ := signing.KeyID(pub)
	ts := append([]Transition(nil), ix.Transitions...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Sequence < ts[j].Sequence })
	k := &bundleKeys{pubs: make([]crypto.PublicKey, len(ts)+1), ids: make([]string, len(ts)+1), trusted: make([]bool, len(ts)+1)}
	if len(ts) == 0 {
		k.pubs[0], k.ids[0], k.trusted[0] = pub, id, pub != nil
		return k
	}
	link := make([]bool, len(ts))
	for i, t := range ts {
		k.seqs = append(k.seqs, t.Sequence)
		raw, err := v.read(t.Path, MaxManifestBytes)
		if err != nil {
			v.problem(missingKind(err, KindManifestMissing), t.Path, "%v", err)
			continue
		}
		m, err := manifest.Parse(raw)
		if err != nil || m.KeyTransition == nil || m.Sequence != t.Sequence || manifest.Key(m.Stream, m.Sequence) != t.Key {
			v.problem(KindKeyTransition, t.Path, "not the key transition record the index names (%s)", t.Key)
			continue
		}
		kt := m.KeyTransition
		old, oerr := signing.ParsePublicKeyPEM([]byte(kt.Old.PublicKey))
		nk, nerr := signing.ParsePublicKeyPEM([]byte(kt.New.PublicKey))
		oid, _ := signing.KeyID(old)
		nid, _ := signing.KeyID(nk)
		if oerr != nil || nerr != nil || oid != kt.Old.KeyID || nid != kt.New.KeyID {
			v.problem(KindKeyTransition, t.Path, "its keys do not parse or are not the fingerprints it states")
			continue
		}
		if k.pubs[i] == nil {
			k.pubs[i], k.ids[i] = old, oid
		}
		k.pubs[i+1], k.ids[i+1] = nk, nid
		ok := v.checkSigBy(t.Signature, t.Path, t.Key, raw, old, oid) && v.checkSigBy(t.NewSignature, t.Path, t.Key, raw, nk, nid)
		if ok && k.ids[i] != oid {
			v.problem(KindKeyTransition, t.Path, "forks the key history: it hands over from key %s, the chain's key before it is %s", oid, k.ids[i])
			ok = false
		}
		if !ok {
			v.problem(KindKeyTransition, t.Path, "not a valid key transition: the keys after it are not trusted")
		}
		link[i] = ok
	}
	for i := range k.ids {
		k.trusted[i] = pub != nil && k.ids[i] == id
	}
	SpreadTrust(k.trusted, link)
	return k
}

// SpreadTrust extends trust along a key history: trusted[i] says whether
// key span i is signed by a key the verifier trusts, link[i] whether a
// valid transition (signed by both keys) hands span i over to span i+1.
// Every span joined to a trusted one by valid transitions, in either
// direction, becomes trusted; a broken transition stops it.
func SpreadTrust(trusted, link []bool) {
	for start := 0; start < len(trusted); {
		end := start // spans start..end are joined by valid transitions
		for end < len(link) && link[end] {
			end++
		}
		if slices.Contains(trusted[start:end+1], true) {
			for i := start; i <= end; i++ {
				trusted[i] = true
			}
		}
		start = end + 1
	}
}

// eventKey returns the key to check a custody event's signature with: the
// trusted key of the chain's history that the signature names, else pub.
func (v *verifier) eventKey(sigPath string, pub crypto.PublicKey) (crypto.PublicKey, string) {
	if sb, err := v.read(sigPath, MaxSignatureBytes); err == nil {
		if sig, err := manifest.ParseSignature(sb); err == nil {
			if k, ok := v.keys.all()[sig.KeyID]; ok {
				return k, sig.KeyID
			}
		}
	}
	return pub, v.rep.TrustedKey
}
