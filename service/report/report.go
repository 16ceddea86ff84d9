// Package report builds a stream's report for reviewers and renders it as
// one self-contained HTML file: a coverage timeline of the stream's
// windows (archived with data, archived empty, with failures, with
// problems, gaps), its runs, the verification result with every problem,
// the checkpoint and witness status, retention and legal holds, and the
// storage policy check.
//
// Build gathers (it reads the store and verifies the chain); Render
// writes HTML from what Build gathered and reads nothing. Every string
// that came from outside (the store, the configuration, the policy check)
// is escaped by html/template.
package report

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// MaxWindows caps the windows of one report: a longer range is refused
// (ErrRange) rather than drawn for minutes. It is ten years of an hourly
// stream.
const MaxWindows = 87_600

// ErrRange means the report's range cannot be drawn: it ends before it
// starts, or holds more than MaxWindows windows.
var ErrRange = errors.New("report range")

// PolicyCheck is one check of the storage's setup (logkeeper policy
// check): Status is pass, fail or unknown; Fix says what to do on a fail.
type PolicyCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Input is what a report is about and what Build needs to read it.
type Input struct {
	Store  store.Store
	Stream string
	// PublicKey is the only key trusted to have signed the manifests.
	PublicKey crypto.PublicKey
	// Origin is where the archive was written (store.origin), empty for
	// the store itself (custody.VerifyOptions.Origin).
	Origin string
	// Witness is the witness store, nil without one; WitnessURL names it.
	Witness    store.Store
	WitnessURL string
	// From and To bound the report (zero: from the first run's window,
	// to the end of the last complete window, see Build).
	From, To time.Time
	// Window is the stream's window length; Scheduled says whether the
	// stream has a schedule (then windows after the last run that have
	// ended are gaps: they were due).
	Window    time.Duration
	Scheduled bool
	// Retention is the configured Object Lock retention (zero: none).
	RetentionMode string
	RetentionDays int
	// Deep re-hashes every object (custody.VerifyOptions.Deep).
	Deep bool
	// Policy is the policy check's result; nil when it was not run.
	Policy []PolicyCheck
	// Now is the clock (default time.Now); Observer follows the verify.
	Now      func() time.Time
	Observer custody.Observer
}

// Report is a stream's report. Its JSON has the stream, windows, gaps,
// runs, problems and out keys of the contract, and the rest.
type Report struct {
	Stream      string    `json:"stream"`
	Store       string    `json:"store"`
	GeneratedAt time.Time `json:"generated_at"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	// WindowSeconds is the length of a window.
	WindowSeconds float64 `json:"window_seconds"`
	// NoData says why the range holds no archived data ("" when it does).
	NoData   string            `json:"no_data,omitempty"`
	Windows  []Window          `json:"windows"`
	Gaps     []Gap             `json:"gaps"`
	Runs     []Run             `json:"runs"`
	Problems []custody.Problem `json:"problems"`
	// Out is the HTML file written (set by the caller).
	Out string `json:"out"`

	Verify     VerifySummary    `json:"verify"`
	Checkpoint CheckpointStatus `json:"checkpoint"`
	Retention  RetentionStatus  `json:"retention"`
	Holds      []Hold           `json:"holds"`
	HoldsError string           `json:"holds_error,omitempty"`
	// Policy is nil when the policy check was not run.
	Policy []PolicyCheck `json:"policy"`
}

// Run is one run (manifest) whose window overlaps the range.
type Run struct {
	Sequence    uint64    `json:"sequence"`
	Key         string    `json:"key"`
	RunID       string    `json:"run_id,omitempty"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Files       int       `json:"files"`
	Bytes       int64     `json:"bytes"`
	Failures    int       `json:"failures"`
	KeyID       string    `json:"key_id"`
	Reason      string    `json:"reason,omitempty"`
	// Problems counts the verification problems found through it.
	Problems int `json:"problems"`
	// Untrusted: the manifest itself failed verification (its signature,
	// placement, link, or a checkpoint it contradicts), so the window it
	// claims is not counted as covered.
	Untrusted bool `json:"untrusted,omitempty"`
}

// untrustedKinds are the problems that make a manifest's own claims
// worthless: who wrote it, or where it belongs, is not proven.
var untrustedKinds = map[string]bool{
	custody.KindManifestInvalid: true, custody.KindManifestMisplaced: true, custody.KindManifestUnexpected: true,
	custody.KindSignatureMissing: true, custody.KindSignatureInvalid: true, custody.KindSignatureKey: true,
	custody.KindChainBroken: true, custody.KindChainRewritten: true,
}

// VerifySummary is the verification's outcome (custody.Verify of the
// whole chain); its problems are the report's.
type VerifySummary struct {
	Mode             string `json:"mode"`
	TrustedKey       string `json:"trusted_key"`
	Head             uint64 `json:"head"`
	HeadSHA256       string `json:"head_sha256,omitempty"`
	ManifestsChecked int    `json:"manifests_checked"`
	ManifestsValid   int    `json:"manifests_valid"`
	ObjectsChecked   int    `json:"objects_checked"`
	ObjectsValid     int    `json:"objects_valid"`
	Bytes            int64  `json:"bytes_checked"`
	Orphans          int    `json:"orphans"`
	IncompleteRuns   int    `json:"incomplete_runs"`
}

// CheckpointStatus is the stream's transparency log and its witness.
type CheckpointStatus struct {
	// Size and Root are the tree verify computed (Root empty when it
	// could not be); Witnessed how many witnessed checkpoints it was
	// proven to extend.
	Size      uint64 `json:"size"`
	Root      string `json:"root"`
	Witnessed int    `json:"witnessed"`
	// Stored says whether the store holds the signed checkpoint of the
	// current tree and whether it matches ("present", "missing", or the
	// problem).
	Stored string `json:"stored"`
	// Witness is the witness location ("" without one); WitnessCount and
	// WitnessLatest the checkpoints it holds for the stream.
	Witness       string `json:"witness,omitempty"`
	WitnessCount  int    `json:"witness_checkpoints"`
	WitnessLatest uint64 `json:"witness_latest,omitempty"`
	WitnessError  string `json:"witness_error,omitempty"`
}

// RetentionStatus is the configured retention and what the objects of
// the runs in range record.
type RetentionStatus struct {
	Mode string `json:"mode"`
	Days int    `json:"days"`
	// Objects counts the objects of the runs in range; Retained those
	// that record a retention, Expired those whose retention has passed.
	Objects  int `json:"objects"`
	Retained int `json:"retained"`
	Expired  int `json:"expired"`
	// EarliestUntil and LatestUntil bound the recorded retain-until dates.
	EarliestUntil *time.Time `json:"earliest_until,omitempty"`
	LatestUntil   *time.Time `json:"latest_until,omitempty"`
	// Held counts objects of the runs in range that an open matter holds.
	Held int `json:"held"`
}

// Hold is a legal hold (matter) on the stream.
type Hold struct {
	Matter     string     `json:"matter"`
	From       *time.Time `json:"from"`
	To         *time.Time `json:"to"`
	Reason     string     `json:"reason"`
	PlacedAt   time.Time  `json:"placed_at"`
	PlacedBy   string     `json:"placed_by"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	ReleasedBy string     `json:"released_by,omitempty"`
	Objects    int        `json:"objects"`
	// InRange says whether the matter's span overlaps the report's range.
	InRange bool `json:"in_range"`
}

// Build reads the stream's runs, verifies its whole chain, and gathers the
// checkpoint, witness, retention and hold status for the range. Its error
// means it could not complete (the store, a cancelled ctx), or wraps
// ErrRange; what is wrong with the archive is in the report.
func Build(ctx context.Context, in Input) (*Report, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Window <= 0 {
		return nil, fmt.Errorf("%w: window length %s", ErrRange, in.Window)
	}
	now := in.Now().UTC()
	r := &Report{Stream: in.Stream, Store: in.Store.Describe(), GeneratedAt: now, WindowSeconds: in.Window.Seconds(),
		Windows: []Window{}, Gaps: []Gap{}, Runs: []Run{}, Problems: []custody.Problem{}, Holds: []Hold{}, Policy: in.Policy}
	if !in.From.IsZero() && !in.To.IsZero() && !in.From.Before(in.To) {
		return nil, fmt.Errorf("%w: --from %s is not before --to %s", ErrRange, in.From.Format(time.RFC3339), in.To.Format(time.RFC3339))
	}
	stored, err := custody.ReadRuns(ctx, in.Store, in.Stream)
	if err != nil {
		return nil, err
	}
	if err := r.verify(ctx, in); err != nil {
		return nil, err
	}
	perSeq, untrusted := map[uint64]int{}, map[uint64]bool{}
	for _, p := range r.Problems {
		n := p.Sequence
		if k, ok := manifest.ParseKey(in.Stream, p.Key); ok && n == 0 {
			n = k
		}
		if n > 0 {
			perSeq[n]++
			untrusted[n] = untrusted[n] || untrustedKinds[p.Kind]
		}
	}
	// The runs read; the default range follows the trusted ones only.
	var readable, trusted []custody.StoredRun
	for _, s := range stored {
		if s.Manifest != nil {
			readable = append(readable, s)
			if !untrusted[s.Sequence] {
				trusted = append(trusted, s)
			}
		}
	}
	from, to := rangeOf(in, trusted, now)
	if from.Before(to) {
		if n := to.Sub(daemon.Floor(from, in.Window)) / in.Window; n > MaxWindows {
			return nil, fmt.Errorf("%w: %s to %s holds %d windows of %s, more than %d: narrow --from/--to",
				ErrRange, from.Format(time.RFC3339), to.Format(time.RFC3339), n, in.Window, MaxWindows)
		}
	}
	r.From, r.To = from, to
	var spans []span
	held := r.holds(ctx, in)
	for _, s := range readable {
		m := s.Manifest
		if !overlaps(m.Window.Start, m.Window.End, from, to) {
			continue
		}
		run := Run{Sequence: s.Sequence, Key: s.Key, RunID: m.RunID, WindowStart: m.Window.Start.UTC(), WindowEnd: m.Window.End.UTC(),
			Files: len(m.Objects), Failures: len(m.Failures), KeyID: s.KeyID, Reason: m.Reason, Problems: perSeq[s.Sequence], Untrusted: untrusted[s.Sequence]}
		for _, o := range m.Objects {
			run.Bytes += o.Size
			r.Retention.add(o.Retention, now)
			if held[custody.HeldVersion{Key: o.Key, VersionID: o.VersionID}] {
				r.Retention.Held++
			}
		}
		r.Runs = append(r.Runs, run)
		if run.Untrusted {
			continue // what it claims to cover is not covered
		}
		sp := span{start: m.Window.Start, end: m.Window.End, status: StatusEmpty}
		switch {
		case run.Problems > 0:
			sp.status = StatusProblems
		case run.Failures > 0:
			sp.status = StatusFailures
		case run.Files > 0:
			sp.status = StatusData
		}
		spans = append(spans, sp)
	}
	r.Windows, r.Gaps = timeline(from, to, in.Window, spans)
	r.Retention.Mode, r.Retention.Days = in.RetentionMode, in.RetentionDays
	switch {
	case len(stored) == 0:
		r.NoData = "stream " + in.Stream + " has no manifests: nothing was archived"
	case !from.Before(to):
		r.NoData = "the range is empty: it starts at or after its end (or after now)"
	case len(r.Runs) == 0:
		r.NoData = "no run of stream " + in.Stream + " covers this range: nothing was archived in it"
	}
	return r, nil
}

// rangeOf is the report's range: the given bounds, else from the window
// of the first run's end (the first run covers everything since the Unix
// epoch) to the end of the last complete window (scheduled streams: a
// window that ended without a run is a gap) or the end of the last run.
// The range never reaches past now.
func rangeOf(in Input, runs []custody.StoredRun, now time.Time) (time.Time, time.Time) {
	from, to := in.From.UTC(), in.To.UTC()
	var lastEnd time.Time
	if len(runs) > 0 {
		first := runs[0].Manifest.Window
		lastEnd = clamp(runs[len(runs)-1].Manifest.Window.End)
		if from.IsZero() {
			from = daemon.Floor(clamp(maxTime(first.Start, first.End.Add(-in.Window))), in.Window)
		}
	}
	if to.IsZero() {
		to = lastEnd
		if in.Scheduled {
			to = maxTime(daemon.Floor(now, in.Window), lastEnd)
		}
	}
	if from.IsZero() {
		from = to.Add(-24 * in.Window) // no run: the last 24 windows
	}
	if to.After(now) {
		to = now
	}
	return clamp(from), clamp(to)
}

func overlaps(s, e, from, to time.Time) bool {
	return s.Before(to) && (e.After(from) || (e.Equal(s) && !s.Before(from)))
}

// add counts one object's recorded retention.
func (rs *RetentionStatus) add(ret *manifest.Retention, now time.Time) {
	rs.Objects++
	if ret == nil || ret.Mode == "" {
		return
	}
	rs.Retained++
	u := ret.RetainUntil.UTC()
	if !u.After(now) {
		rs.Expired++
	}
	if rs.EarliestUntil == nil || u.Before(*rs.EarliestUntil) {
		rs.EarliestUntil = &u
	}
	if rs.LatestUntil == nil || u.After(*rs.LatestUntil) {
		rs.LatestUntil = &u
	}
}

// verify runs custody.Verify over the whole chain and reads the
// checkpoint and witness status.
func (r *Report) verify(ctx context.Context, in Input) error {
	opts := custody.VerifyOptions{PublicKey: in.PublicKey, Deep: in.Deep, Origin: in.Origin, Witness: in.Witness, Observer: in.Observer, Now: in.Now}
	rep, err := custody.Verify(ctx, in.Store, in.Stream, opts)
	if err != nil {
		return err
	}
	r.Problems = rep.Problems
	keyID, _ := signing.KeyID(in.PublicKey)
	r.Verify = VerifySummary{Mode: "fast", TrustedKey: keyID, Head: rep.Head, HeadSHA256: rep.HeadSHA256,
		ManifestsChecked: rep.ManifestsChecked, ManifestsValid: rep.ManifestsValid, ObjectsChecked: rep.ObjectsChecked,
		ObjectsValid: rep.ObjectsValid, Bytes: rep.Bytes, Orphans: rep.Orphans, IncompleteRuns: len(rep.IncompleteRuns)}
	if in.Deep {
		r.Verify.Mode = "deep"
	}
	c := &r.Checkpoint
	if rep.Checkpoint != nil {
		c.Size, c.Root, c.Witnessed = rep.Checkpoint.Size, rep.Checkpoint.Root, rep.Checkpoint.Witnessed
	}
	c.Stored = "none: the stream has no manifests"
	if c.Size > 0 {
		origin := in.Origin
		if origin == "" {
			origin = in.Store.Describe()
		}
		th, err := custody.ReadTreeHead(ctx, in.Store, in.Stream, c.Size, in.PublicKey, custody.Origin(origin, in.Stream))
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.Stored = fmt.Sprintf("missing: no checkpoint for tree size %d at %s", c.Size, custody.CheckpointKey(in.Stream, c.Size))
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			c.Stored = "unusable: " + err.Error()
		case c.Root != "" && base64.StdEncoding.EncodeToString(th.Root) != c.Root:
			c.Stored = fmt.Sprintf("does not match: it says root %s", base64.StdEncoding.EncodeToString(th.Root))
		case c.Root == "":
			c.Stored = "present and signed by the trusted key; not compared: the tree could not be computed"
		default:
			c.Stored = "present, signed by the trusted key, matches the tree"
		}
	}
	if in.Witness != nil {
		c.Witness = in.WitnessURL
		if c.Witness == "" {
			c.Witness = in.Witness.Describe()
		}
		sizes, err := custody.WitnessedSizes(ctx, in.Witness, in.Stream)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.WitnessError = err.Error()
		}
		c.WitnessCount = len(sizes)
		if len(sizes) > 0 {
			c.WitnessLatest = sizes[len(sizes)-1]
		}
	}
	return nil
}

// holds reads the stream's legal holds and returns the object versions
// that open matters hold.
func (r *Report) holds(ctx context.Context, in Input) map[custody.HeldVersion]bool {
	held := map[custody.HeldVersion]bool{}
	hs, err := custody.ListHolds(ctx, in.Store)
	if err != nil {
		r.HoldsError = err.Error()
	}
	for _, h := range hs {
		if h.Stream != in.Stream {
			continue
		}
		hold := Hold{Matter: h.Matter, From: h.From, To: h.To, Reason: h.Reason, PlacedAt: h.PlacedAt, PlacedBy: h.PlacedBy,
			ReleasedAt: h.ReleasedAt, ReleasedBy: h.ReleasedBy, Objects: len(h.Objects)}
		hf, ht := time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		if h.From != nil {
			hf = *h.From
		}
		if h.To != nil {
			ht = *h.To
		}
		hold.InRange = hf.Before(r.To) && ht.After(r.From)
		r.Holds = append(r.Holds, hold)
		if h.ReleasedAt == nil {
			for _, v := range h.Objects {
				held[v] = true
			}
		}
	}
	sort.SliceStable(r.Holds, func(i, j int) bool { return r.Holds[i].Matter < r.Holds[j].Matter })
	return held
}
