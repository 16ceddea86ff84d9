package report

import (
	"math"
	"sort"
	"time"

	"github.com/logkeeper/logkeeper/service/daemon"
)

// Window statuses, from the best to the worst. A window takes the worst
// status among the runs that cover it.
const (
	StatusData     = "data"     // archived by runs that stored files
	StatusEmpty    = "empty"    // archived by runs that found nothing to store
	StatusFailures = "failures" // archived, but a run covering it lists files it could not archive
	StatusProblems = "problems" // a run covering it failed verification
	StatusGap      = "gap"      // no readable run covers it, or only part of it
)

// statusRank orders the statuses: the higher, the worse.
var statusRank = map[string]int{StatusEmpty: 0, StatusData: 1, StatusFailures: 2, StatusProblems: 3, StatusGap: 4}

// worse returns the worse of two statuses.
func worse(a, b string) string {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}

// Window is one window of the stream's schedule in the report's range
// (clipped to the range), and what covers it.
type Window struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Status string    `json:"status"`
}

// Gap is a span of the range that no readable run covers.
type Gap struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Windows counts the schedule's windows it touches.
	Windows int `json:"windows"`
}

// span is a run's window and what the run says about it.
type span struct {
	start, end time.Time
	status     string // StatusData, StatusEmpty, StatusFailures or StatusProblems
}

// timeline cuts [from, to) into windows of length w aligned to the Unix
// epoch and gives each the worst status of the spans that cover it; the
// parts no span covers are the gaps. It works in O(windows + spans log
// spans), whatever the spans (overlapping, huge, hostile).
func timeline(from, to time.Time, w time.Duration, spans []span) ([]Window, []Gap) {
	from, to = clamp(from), clamp(to)
	if !from.Before(to) {
		return []Window{}, []Gap{}
	}
	var windows []Window
	for s := from; s.Before(to); {
		e := daemon.Floor(s, w).Add(w)
		if e.After(to) {
			e = to
		}
		windows = append(windows, Window{Start: s, End: e, Status: StatusEmpty})
		s = e
	}
	// index returns the window holding t (from <= t < to).
	first := daemon.Floor(from, w)
	index := func(t time.Time) int {
		return int(daemon.Floor(t, w).Sub(first) / w)
	}
	// The spans' statuses, by difference counts per status and window.
	diff := map[string][]int{}
	for _, st := range []string{StatusData, StatusFailures, StatusProblems} {
		diff[st] = make([]int, len(windows)+1)
	}
	var covered []span
	for _, sp := range spans {
		s, e := maxTime(clamp(sp.start), from), minTime(clamp(sp.end), to)
		if !s.Before(e) {
			continue
		}
		covered = append(covered, span{start: s, end: e})
		if d, ok := diff[sp.status]; ok {
			d[index(s)]++
			d[index(e.Add(-1))+1]--
		}
	}
	for _, st := range []string{StatusData, StatusFailures, StatusProblems} {
		n := 0
		for i := range windows {
			n += diff[st][i]
			if n > 0 {
				windows[i].Status = worse(windows[i].Status, st)
			}
		}
	}
	// The gaps: what the union of the spans leaves of [from, to).
	sort.Slice(covered, func(i, j int) bool { return covered[i].start.Before(covered[j].start) })
	gaps := []Gap{}
	at := from
	addGap := func(s, e time.Time) {
		i, j := index(s), index(e.Add(-1))
		for k := i; k <= j; k++ {
			windows[k].Status = StatusGap
		}
		gaps = append(gaps, Gap{Start: s, End: e, Windows: j - i + 1})
	}
	for _, c := range covered {
		if c.start.After(at) {
			addGap(at, c.start)
		}
		at = maxTime(at, c.end)
	}
	if at.Before(to) {
		addGap(at, to)
	}
	return windows, gaps
}

// Times outside [epoch, latest] are clamped: window boundaries are
// computed in Unix nanoseconds, which end in 2262, and a manifest (maybe a
// forged one) may name any time.
var (
	epoch  = time.Unix(0, 0).UTC()
	latest = time.Unix(0, math.MaxInt64).UTC().AddDate(-1, 0, 0)
)

func clamp(t time.Time) time.Time {
	return minTime(maxTime(t, epoch), latest)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// cell is one mark of the drawn timeline: one window, or several
// consecutive ones when the range holds more windows than fit.
type cell struct {
	Start, End time.Time
	Status     string
	Windows    int
	// X and Width place it in the drawing, in its units (0..timelineWidth).
	X, Width float64
}

// timelineWidth is the drawing's width in SVG units; maxCells caps its marks.
const (
	timelineWidth = 1000.0
	maxCells      = 500
)

// cells groups the windows into at most maxCells marks, each with the
// worst status of its windows, placed by time.
func cells(windows []Window) []cell {
	if len(windows) == 0 {
		return nil
	}
	per := (len(windows) + maxCells - 1) / maxCells
	from, to := windows[0].Start, windows[len(windows)-1].End
	total := float64(to.Sub(from))
	var out []cell
	for i := 0; i < len(windows); i += per {
		group := windows[i:min(i+per, len(windows))]
		c := cell{Start: group[0].Start, End: group[len(group)-1].End, Status: StatusEmpty, Windows: len(group)}
		for _, w := range group {
			c.Status = worse(c.Status, w.Status)
		}
		c.X = timelineWidth * float64(c.Start.Sub(from)) / total
		c.Width = timelineWidth * float64(c.End.Sub(c.Start)) / total
		out = append(out, c)
	}
	return out
}
