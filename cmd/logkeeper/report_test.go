package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// report writes the HTML file and prints the contract's JSON; a clean
// archive is exit 0, one with a deleted run is exit 1 with the run's
// window as a gap.
func TestReportCommand(t *testing.T) {
	c, cfg := setup(t)
	for i := range 3 {
		os.WriteFile(filepath.Join(c.dir, "logs", "run"+string(rune('1'+i))+".log"), []byte("data\n"), 0o644)
		if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge"); code != 0 {
			t.Fatalf("export: %s", errs)
		}
	}
	out := filepath.Join(c.dir, "report.html")
	code, stdout, errs := c.run("report", "-c", cfg, "--stream", "edge", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("report: exit %d %s %s", code, stdout, errs)
	}
	var rep struct {
		Stream   string
		Windows  []map[string]any
		Gaps     []struct{ Start, End string }
		Runs     []struct{ Sequence int }
		Problems []map[string]any
		Out      string
		Policy   []struct{ Name, Status string }
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("report --json: %v: %s", err, stdout)
	}
	for _, k := range []string{"stream", "windows", "gaps", "runs", "problems", "out"} {
		if _, ok := keys[k]; !ok {
			t.Fatalf("report --json lacks %q: %s", k, stdout)
		}
	}
	json.Unmarshal([]byte(stdout), &rep)
	if rep.Stream != "edge" || len(rep.Runs) != 3 || len(rep.Gaps) != 0 || len(rep.Problems) != 0 || rep.Out != out || len(rep.Windows) == 0 {
		t.Fatalf("report --json: %s", stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(page), "<!DOCTYPE html>") || !strings.Contains(string(page), "verified clean") {
		t.Fatalf("report file: %v %.200s", err, page)
	}
	// The policy check of the store's folder is in the report.
	var folder string
	for _, p := range rep.Policy {
		if p.Name == "folder_permissions" {
			folder = p.Status
		}
	}
	if folder == "" || strings.Contains(string(page), "Policy check: not run") || !strings.Contains(string(page), "folder_permissions") {
		t.Fatalf("report without the policy check: %+v", rep.Policy)
	}

	// Delete run 2's manifest and signature: its window is a gap.
	var run2 struct{ Window struct{ Start, End string } }
	manifests := filepath.Join(c.dir, "archive", "edge", "manifests")
	raw, _ := os.ReadFile(filepath.Join(manifests, "00000000000000000002.json"))
	json.Unmarshal(raw, &run2)
	files, _ := filepath.Glob(filepath.Join(manifests, "00000000000000000002.*"))
	for _, f := range files {
		os.Remove(f)
	}
	code, stdout, _ = c.run("report", "-c", cfg, "--stream", "edge", "--out", out, "--json")
	rep.Gaps = nil
	json.Unmarshal([]byte(stdout), &rep)
	if code != 1 || len(rep.Gaps) != 1 || len(rep.Runs) != 2 || !strings.Contains(stdout, `"kind": "manifest_missing"`) {
		t.Fatalf("report after a deleted run: exit %d %s", code, stdout)
	}
	if rep.Gaps[0].Start != run2.Window.Start || rep.Gaps[0].End != run2.Window.End {
		t.Fatalf("gap %+v, want run 2's window %+v", rep.Gaps[0], run2.Window)
	}
	code, stdout, _ = c.run("report", "-c", cfg, "--stream", "edge", "--out", out)
	if code != 1 || !strings.Contains(stdout, "gap "+run2.Window.Start+" to "+run2.Window.End) || !strings.Contains(stdout, "report "+out+": ") {
		t.Fatalf("report: exit %d %q", code, stdout)
	}

	// A range with no data: a report that says so.
	// The first run covers everything since the epoch: the year 2000 too.
	code, stdout, _ = c.run("report", "-c", cfg, "--stream", "edge", "--out", out, "--from", "2000-01-01T00:00:00Z", "--to", "2000-01-01T02:00:00Z")
	if !strings.Contains(stdout, "2 windows, 0 gaps, 1 run, 1 problem") {
		t.Fatalf("report of 2000: exit %d %q", code, stdout)
	}
	code, stdout, _ = c.run("report", "-c", cfg, "--stream", "edge", "--out", out, "--from", "2099-01-01T00:00:00Z", "--to", "2099-01-02T00:00:00Z")
	if !strings.Contains(stdout, "no data:") {
		t.Fatalf("report of 2099: exit %d %q", code, stdout)
	}
}

func TestReportUsageErrors(t *testing.T) {
	c, cfg := setup(t)
	for _, args := range [][]string{
		{"--out", filepath.Join(c.dir, "missing", "r.html")},
		{"--out", c.dir},
		{"--out", filepath.Join(c.dir, "r.html"), "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"},
		{"--out", filepath.Join(c.dir, "r.html"), "--from", "yesterday"},
		{},
	} {
		code, out, errs := c.run(append([]string{"report", "-c", cfg, "--stream", "edge"}, args...)...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, %q %q; want 2", args, code, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "r.html")); err == nil {
		t.Error("a refused report wrote its file")
	}
}
