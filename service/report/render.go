package report

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/logkeeper/logkeeper/internal/cli"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"time":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"ptime": func(t *time.Time) string { return optTime(t, "open") },
	"size":  cli.Size,
	"count": func(n int, noun string) string { return cli.Count(n, noun, "") },
	"dur":   func(s float64) string { return cli.Duration(time.Duration(s * float64(time.Second))) },
	"num":   func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"label": func(s string) string { return statusLabel[s] },
}).Parse(pageSource))

// statusLabel is how the page names each window status.
var statusLabel = map[string]string{
	StatusData:     "archived with data",
	StatusEmpty:    "archived empty",
	StatusFailures: "archived with failures",
	StatusProblems: "failed verification",
	StatusGap:      "gap: not archived",
	"pass":         "pass",
	"fail":         "fail",
	"unknown":      "unknown",
}

func optTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// view is what the template draws: the report and the timeline's marks.
type view struct {
	*Report
	Cells       []cell
	Statuses    []string
	Width       float64
	PolicyFails int
}

// Render writes the report as one self-contained HTML page: inline CSS and
// SVG, no script, no outside resource; it prints to PDF as it shows.
func Render(w io.Writer, r *Report) error {
	r, err := escaped(r)
	if err != nil {
		return err
	}
	v := view{Report: r, Cells: cells(r.Windows), Width: timelineWidth,
		Statuses: []string{StatusData, StatusEmpty, StatusFailures, StatusProblems, StatusGap}}
	for _, p := range r.Policy {
		if p.Status != "pass" {
			v.PolicyFails++
		}
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// escaped returns a copy of the report whose every string is escaped as
// the commands escape what they print (cli.Escape): control characters,
// bidirectional overrides and other invisible format characters, invalid
// UTF-8. html/template then escapes the markup; together a hostile name
// can neither add markup nor hide or reorder text on the page.
func escaped(r *Report) (*Report, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	var c Report
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	escapeStrings(reflect.ValueOf(&c).Elem())
	return &c, nil
}

func escapeStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(cli.Escape(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			escapeStrings(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			escapeStrings(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				escapeStrings(v.Field(i))
			}
		}
	}
}

// WriteFile renders the report into path whole or not at all: into a
// temporary file beside it, then renamed over it (readable by all, 0644).
func WriteFile(path string, r *Report) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err = Render(bw, r); err != nil {
		return err
	}
	if err = bw.Flush(); err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
