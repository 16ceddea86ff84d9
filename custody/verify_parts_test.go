package custody_test

import (
	"context"
	"slices"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// Verify checks the order of parts (chain_link_mismatch) and reports runs
// cut short after some parts as incomplete, not as problems.
func TestVerifyParts(t *testing.T) {
	type m struct {
		run string
		p   *manifest.Part
	}
	cases := []struct {
		name       string
		chain      []m
		kinds      []string
		incomplete []custody.IncompleteRun
	}{
		{"complete runs", []m{{"a", &manifest.Part{Index: 1}}, {"a", &manifest.Part{Index: 2, Final: true}}, {"b", nil}}, nil, nil},
		{"cut short, then a run", []m{{"a", &manifest.Part{Index: 1}}, {"a", &manifest.Part{Index: 2}}, {"b", nil}}, nil,
			[]custody.IncompleteRun{{RunID: "a", Parts: 2, LastSequence: 2}}},
		{"head cut short", []m{{"a", nil}, {"b", &manifest.Part{Index: 1}}}, nil,
			[]custody.IncompleteRun{{RunID: "b", Parts: 1, LastSequence: 2}}},
		{"part of another run", []m{{"a", &manifest.Part{Index: 1}}, {"b", &manifest.Part{Index: 2, Final: true}}},
			[]string{custody.KindChainBroken}, []custody.IncompleteRun{{RunID: "a", Parts: 1, LastSequence: 1}}},
		{"only a first part", []m{{"a", &manifest.Part{Index: 1}}}, nil, []custody.IncompleteRun{{RunID: "a", Parts: 1, LastSequence: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s := signer(t, 1)
			ctx := context.Background()
			ch, err := custody.Load(ctx, st, "s", s.Public())
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range c.chain {
				mm := newManifest(x.run)
				mm.Store = st.Describe()
				mm.Part = x.p
				if _, err := ch.Append(ctx, st, s, mm, store.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := custody.Verify(ctx, st, "s", custody.VerifyOptions{PublicKey: s.Public()})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, p := range rep.Problems {
				kinds = append(kinds, p.Kind)
			}
			if !slices.Equal(kinds, c.kinds) || !slices.Equal(rep.IncompleteRuns, c.incomplete) {
				t.Fatalf("problems %v (want %v), incomplete %+v (want %+v)", rep.Problems, c.kinds, rep.IncompleteRuns, c.incomplete)
			}
		})
	}
}
