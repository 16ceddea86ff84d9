package report

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/policies"
)

func newS3(t *testing.T, env testenv.S3Env, bucket string) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: bucket, Prefix: "archive", PathStyle: true,
		PartSize: 5 << 20, Concurrency: 4, Client: env.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A stream archived on S3 (versitygw: Object Lock, a witness bucket, a
// legal hold): the clean report shows every checkpoint witnessed, the
// retention the objects record and the open matter; once a run's manifest
// is deleted, the report shows its window as a gap, in Chromium too.
func TestReportOnS3(t *testing.T) {
	env := testenv.S3(t)
	st := newS3(t, env, env.NewBucket(t, true))
	witness := newS3(t, env, env.NewBucket(t, false))
	ret := &policies.Retention{Mode: policies.Governance, RetainDays: 30}
	f := newFixture(t, st, func(j *export.Job) { j.Witness, j.Retention = witness, ret })
	ctx := context.Background()
	if _, err := custody.PlaceHold(ctx, st, stream, custody.HoldOptions{Matter: "M-1", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour),
		Reason: "<b>subpoena</b>", Actor: "reviewer", PublicKey: f.signer.Public(), Now: func() time.Time { return f.now }}); err != nil {
		t.Fatal(err)
	}
	in := f.input()
	in.Witness, in.WitnessURL = witness, "s3://witness"
	in.RetentionMode, in.RetentionDays = ret.Mode, ret.RetainDays
	in.To = t0.Add(6 * time.Hour) // no outage: a clean report
	r, err := Build(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 0 || len(r.Gaps) != 0 || len(r.Runs) != 6 {
		t.Fatalf("clean: problems %v, gaps %v, %d runs", r.Problems, r.Gaps, len(r.Runs))
	}
	c := r.Checkpoint
	if c.Size != 6 || c.Root == "" || c.Witnessed != 6 || c.WitnessCount != 6 || c.WitnessLatest != 6 || c.Stored != "present, signed by the trusted key, matches the tree" {
		t.Fatalf("checkpoint %+v", c)
	}
	// Run 2 archived one file; the matter holds it. Every object records
	// its retention of 30 days from its run.
	if rs := r.Retention; rs.Objects != 5 || rs.Retained != 5 || rs.Held != 1 || rs.Expired != 0 || rs.EarliestUntil == nil || rs.Mode != policies.Governance {
		t.Fatalf("retention %+v", rs)
	}
	if len(r.Holds) != 1 || r.Holds[0].Matter != "M-1" || r.Holds[0].ReleasedAt != nil || !r.Holds[0].InRange {
		t.Fatalf("holds %+v", r.Holds)
	}

	f.deleteRun(t, 4)
	r, err = Build(ctx, f.input())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gaps) != 2 || !r.Gaps[0].Start.Equal(wantGaps[0].Start) || !r.Gaps[0].End.Equal(wantGaps[0].End) || !hasProblem(r.Problems, custody.KindManifestMissing, 4) {
		t.Fatalf("after the deletion: gaps %+v, problems %v", r.Gaps, r.Problems)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(out, r); err != nil {
		t.Fatal(err)
	}
	checkRendered(t, out, wantGaps, 5)
}
