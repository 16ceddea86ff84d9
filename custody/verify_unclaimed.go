package custody

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// checkUnclaimed reports the objects in the folder of a run whose manifest
// was read but does not list them (object_unclaimed), and, when the whole
// chain was verified, counts and lists the objects and signatures of runs
// that wrote no manifest: crashed runs, or writers that lost the race for
// a sequence number. Those are orphans, not failures (pass 5).
func (v *verifier) checkUnclaimed(l *listing, whole bool) {
	runs := make([]string, 0, len(l.objects))
	for run := range l.objects {
		runs = append(runs, run)
	}
	sort.Strings(runs)
	var orphans []string
	for _, run := range runs {
		seq, known := v.runs[run]
		for _, k := range l.objects[run] {
			switch {
			case v.claimed[k]:
			case known:
				v.problem(Problem{Kind: KindObjectUnclaimed, Key: k, Sequence: seq,
					Detail: fmt.Sprintf("in the folder of run %s, whose manifest %d does not list it", run, seq)})
			default:
				orphans = append(orphans, k)
			}
		}
	}
	for _, k := range l.sigs {
		if !v.ownSigs[k] {
			orphans = append(orphans, k)
		}
	}
	if !whole {
		return
	}
	sort.Strings(orphans)
	v.rep.Orphans = len(orphans)
	v.rep.OrphanKeys = orphans[:min(len(orphans), maxOrphanKeys)]
}

// checkFreshness reports chain_stale when the head's window ended longer
// than MaxAge ago (pass 6). The head is read when the range stops before it.
func (v *verifier) checkFreshness(ctx context.Context, l *listing, to uint64) error {
	if v.opts.MaxAge <= 0 {
		return nil
	}
	key := manifest.Key(v.stream, l.head)
	head := v.heads
	if head == nil && to < l.head {
		raw, err := readCapped(ctx, v.st, key, MaxManifestBytes)
		if err != nil && !errors.Is(err, store.ErrNotFound) && !isUnreadable(err) {
			return err
		}
		if err == nil {
			head, _ = manifest.Parse(raw)
		}
	}
	now := v.opts.Now().UTC()
	switch {
	case head == nil:
		v.problem(Problem{Kind: KindChainStale, Key: key, Sequence: l.head,
			Detail: "the newest manifest cannot be read, so the archive cannot be shown to have grown within " + v.opts.MaxAge.String()})
	case now.Sub(head.Window.End) > v.opts.MaxAge:
		v.problem(Problem{Kind: KindChainStale, Key: key, Sequence: l.head,
			Detail: fmt.Sprintf("the newest manifest's window ended %s, %s ago, longer than the allowed %s: the archive stopped growing",
				head.Window.End.UTC().Format(time.RFC3339), now.Sub(head.Window.End).Round(time.Second), v.opts.MaxAge)})
	}
	return nil
}
