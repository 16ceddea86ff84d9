package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A part of a run encodes with its "part" field and round-trips; the
// encoding is pinned like the whole-run manifest's.
func TestGoldenPart(t *testing.T) {
	m := fixture()
	m.Part = &Part{Index: 2}
	m.Window.Start = m.Window.End
	got, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "v1-part.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding changed; run go test ./manifest -update if intended\n got: %s", got)
	}
	back, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if back.Part == nil || *back.Part != (Part{Index: 2}) || back.Complete() || back.PartIndex() != 2 {
		t.Fatalf("part after parse: %+v", back.Part)
	}
	if !bytes.Contains(want, []byte(`"part": {`)) {
		t.Fatal("no part field in the encoding")
	}
	plain, _ := os.ReadFile(filepath.Join("testdata", "v1.golden.json"))
	if bytes.Contains(plain, []byte(`"part"`)) {
		t.Fatal("a manifest without parts must not encode a part field")
	}
}

func TestPartValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Manifest)
		want string // "" valid
	}{
		{"no part", func(*Manifest) {}, ""},
		{"first of several", func(m *Manifest) { m.Part = &Part{Index: 1}; m.Window.Start = m.Window.End }, ""},
		{"last carries the window", func(m *Manifest) { m.Part = &Part{Index: 3, Final: true} }, ""},
		{"index 0", func(m *Manifest) { m.Part = &Part{Index: 0, Final: true} }, "index must be 1 or more"},
		{"non-final with a window", func(m *Manifest) { m.Part = &Part{Index: 1} }, "empty window"},
		{"part 2 as sequence 1", func(m *Manifest) {
			m.Sequence, m.Previous = 1, nil
			m.Part = &Part{Index: 2, Final: true}
		}, "first manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := fixture()
			c.edit(m)
			_, err := Marshal(m)
			if c.want == "" && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("want error with %q, got %v", c.want, err)
			}
		})
	}
}

func TestCheckPartOrder(t *testing.T) {
	run := func(id string, p *Part) *Manifest { return &Manifest{RunID: id, Part: p} }
	whole := func(id string) *Manifest { return run(id, nil) }
	part := func(id string, i uint32, final bool) *Manifest { return run(id, &Part{Index: i, Final: final}) }
	cases := []struct {
		name      string
		prev, cur *Manifest
		want      string
	}{
		{"first whole run", nil, whole("a"), ""},
		{"first part first", nil, part("a", 1, false), ""},
		{"whole after whole", whole("a"), whole("b"), ""},
		{"part 2 after part 1", part("a", 1, false), part("a", 2, false), ""},
		{"last after part 2", part("a", 2, false), part("a", 3, true), ""},
		{"new run after a complete one", part("a", 3, true), part("b", 1, false), ""},
		{"new run after one cut short", part("a", 2, false), whole("b"), ""},
		{"part 2 first", nil, part("a", 2, true), "no part before it"},
		{"part 2 of another run", part("a", 1, false), part("b", 2, true), "follows run a"},
		{"part after the last", part("a", 2, true), part("a", 3, true), "follows the run's last part"},
		{"part skipped", part("a", 1, false), part("a", 3, true), "follows part 1"},
		{"part repeated", part("a", 2, false), part("a", 2, true), "follows part 2"},
		{"run restarts", part("a", 1, false), part("a", 1, false), "starts again"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPartOrder(c.prev, c.cur)
			if c.want == "" && err != nil {
				t.Fatalf("want nil, got %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
		})
	}
}

// No manifest over MaxBytes is written, whatever makes it large, and
// none over MaxReadBytes is read.
func TestMaxBytes(t *testing.T) {
	m := fixture()
	o := m.Objects[0]
	for i := range 40_000 {
		o.Key = "edge-logs/objects/r/" + strings.Repeat("k", 400) + strconv.Itoa(i)
		m.Objects = append(m.Objects, o)
	}
	_, err := Marshal(m)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Marshal of a huge manifest: want ErrTooLarge, got %v", err)
	}
	big := append([]byte(`{"schema":"`), bytes.Repeat([]byte(" "), MaxReadBytes)...)
	if _, err := Parse(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse of %d bytes: want ErrTooLarge, got %v", len(big), err)
	}
	// A manifest written before parts existed may be over MaxBytes: it
	// still parses.
	m.Objects = m.Objects[:2]
	raw, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(bytes.TrimRight(raw, "\n"), bytes.Repeat([]byte(" "), MaxBytes)...)
	if _, err := Parse(padded); err != nil {
		t.Fatalf("Parse of an old manifest of %d bytes: %v", len(padded), err)
	}
}
