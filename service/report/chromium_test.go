package report

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the Chromium screenshot of the fixture's report to docs/report.png")

// chromium returns Debian's chromium (scripts/chromium.sh installs it), or
// skips the test without it; in CI a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LOGKEEPER_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "chromium not installed at " + bin + ": run scripts/chromium.sh"
		if testenv.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// browser starts a headless Chromium on its own fresh profile, with
// nothing of it reaching out (no background networking, updates or sync).
func browser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	var logs bytes.Buffer
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&logs),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, logs.String())
	}
	return bctx
}

// rendered is what the page shows, read from the browser's DOM.
type rendered struct {
	Cells []struct {
		Status, Start, End string
		Width, Height      float64
		Fill               string
	}
	GapRows   []string
	Problems  []string
	Runs      int
	Resources []string
	Scripts   int
	Images    int
	Reason    string
	Policy    string
	Title     string
}

const inspect = `({
	cells: [...document.querySelectorAll('#timeline rect.cell')].map(r => {
		const b = r.getBoundingClientRect();
		return {status: r.dataset.status, start: r.dataset.start, end: r.dataset.end, width: b.width, height: b.height, fill: getComputedStyle(r).fill};
	}),
	gapRows: [...document.querySelectorAll('#gaps tr.gap')].map(r => r.dataset.start + '/' + r.dataset.end),
	problems: [...document.querySelectorAll('#problems tr.problem')].map(r => r.dataset.kind),
	runs: document.querySelectorAll('#runs tbody tr').length,
	resources: performance.getEntriesByType('resource').map(e => e.name),
	scripts: document.scripts.length,
	images: document.images.length,
	reason: document.querySelector('#runs tr[data-sequence="2"] td:last-child').textContent,
	policy: (document.getElementById('policy-not-run') || {textContent: ''}).textContent,
	title: document.title,
})`

// The report of the fixture renders in headless Chromium: the timeline is
// drawn, the window whose run was deleted and the outage are drawn as
// gaps (and listed), verification names the missing manifest, the page
// loads nothing from anywhere, a hostile reason is plain text, and it
// prints to PDF.
func TestReportRendersInChromium(t *testing.T) {
	f := newFixture(t, memstore.New(memstore.Options{}))
	f.deleteRun(t, 4)
	r, err := Build(context.Background(), f.input())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(out, r); err != nil {
		t.Fatal(err)
	}
	checkRendered(t, out, wantGaps, 5)
}

func checkRendered(t *testing.T, out string, gaps []Gap, runs int) {
	t.Helper()
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+out), chromedp.WaitReady("#timeline")); err != nil {
		t.Fatalf("load %s: %v", out, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[rendered](inspect))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Resources) != 0 || got.Scripts != 0 || got.Images != 0 {
		t.Fatalf("the page loads %v, has %d scripts and %d images: want none", got.Resources, got.Scripts, got.Images)
	}
	if len(got.Cells) == 0 {
		t.Fatal("no timeline drawn")
	}
	var gapCells []string
	for _, c := range got.Cells {
		if c.Width <= 0 || c.Height <= 0 || c.Fill == "" || c.Fill == "none" {
			t.Fatalf("cell %+v is not drawn", c)
		}
		if c.Status == StatusGap {
			gapCells = append(gapCells, c.Start+"/"+c.End)
		}
	}
	var want []string
	for _, g := range gaps {
		// Each gap here is whole windows: one drawn gap cell per window.
		for s := g.Start; s.Before(g.End); s = s.Add(time.Hour) {
			want = append(want, s.Format(time.RFC3339)+"/"+s.Add(time.Hour).Format(time.RFC3339))
		}
	}
	if strings.Join(gapCells, " ") != strings.Join(want, " ") {
		t.Fatalf("gap cells %v, want %v", gapCells, want)
	}
	var wantRows []string
	for _, g := range gaps {
		wantRows = append(wantRows, g.Start.Format(time.RFC3339)+"/"+g.End.Format(time.RFC3339))
	}
	if strings.Join(got.GapRows, " ") != strings.Join(wantRows, " ") {
		t.Fatalf("gap rows %v, want %v", got.GapRows, wantRows)
	}
	if got.Runs != runs || !strings.Contains(strings.Join(got.Problems, " "), "manifest_missing") {
		t.Fatalf("%d runs, problems %v", got.Runs, got.Problems)
	}
	if !strings.Contains(got.Reason, "<script>alert(1)</script>") || !strings.Contains(got.Reason, `\x1b[2K\u202e`) {
		t.Fatalf("the hostile reason is not shown as text: %q", got.Reason)
	}
	if !strings.HasPrefix(got.Policy, "Policy check: not run") || got.Title != "logkeeper report: stream edge" {
		t.Fatalf("policy %q, title %q", got.Policy, got.Title)
	}
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPrintBackground(), chromedp.PDFPreferCSSPageSize()))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10_000 {
		t.Fatalf("print to PDF: %d bytes, %v", len(pdf), err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v", err)
	}
	if *updateScreenshot {
		if err := os.WriteFile("../../docs/report.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
