package custody_test

import (
	"context"
	"errors"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// A chain of runs sealed in parts loads when the parts follow each other,
// including after a run cut short; a part out of place breaks the chain.
func TestLoadChecksPartOrder(t *testing.T) {
	type m struct {
		run string
		p   *manifest.Part
	}
	cases := []struct {
		name   string
		chain  []m
		broken bool
	}{
		{"parts in order", []m{{"a", &manifest.Part{Index: 1}}, {"a", &manifest.Part{Index: 2}}, {"a", &manifest.Part{Index: 3, Final: true}}, {"b", nil}}, false},
		{"run cut short, next run", []m{{"a", &manifest.Part{Index: 1}}, {"a", &manifest.Part{Index: 2}}, {"b", &manifest.Part{Index: 1}}, {"b", &manifest.Part{Index: 2, Final: true}}}, false},
		{"head is a part cut short", []m{{"a", nil}, {"b", &manifest.Part{Index: 1}}}, false},
		{"part of another run", []m{{"a", &manifest.Part{Index: 1}}, {"b", &manifest.Part{Index: 2, Final: true}}}, true},
		{"part after the last", []m{{"a", &manifest.Part{Index: 1, Final: true}}, {"a", &manifest.Part{Index: 2, Final: true}}}, true},
		{"part skipped", []m{{"a", &manifest.Part{Index: 1}}, {"a", &manifest.Part{Index: 3, Final: true}}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s := signer(t, 1)
			ctx := context.Background()
			// Append through one chain value, which checks nothing of the
			// order: only Load does.
			ch, err := custody.Load(ctx, st, "s", s.Public())
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range c.chain {
				mm := newManifest(x.run)
				mm.Part = x.p
				if _, err := ch.Append(ctx, st, s, mm, store.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			_, err = custody.Load(ctx, st, "s", s.Public())
			if c.broken != errors.Is(err, custody.ErrChainBroken) || (!c.broken && err != nil) {
				t.Fatalf("load: %v, want broken %v", err, c.broken)
			}
		})
	}
}
