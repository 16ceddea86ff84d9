// Command vulndb turns the OSV entries of the golang.org/x/vulndb module
// (its data/osv folder, fetched through the Go module proxy) into a Go
// vulnerability database in the layout govulncheck reads with
// -db file://DIR: index/db.json, index/modules.json and ID/<id>.json.
//
//	vulndb -osv DIR/data/osv -out DB
//
// It lets `make vuln` run where vuln.go.dev cannot be reached but the
// module proxy can. The entries are the ones vuln.go.dev serves; only the
// index is rebuilt here.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry is the part of an OSV entry the index needs.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []struct {
				Fixed string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("vulndb: ")
	osvDir := flag.String("osv", "", "folder of OSV entries (GO-*.json)")
	out := flag.String("out", "", "database folder to write")
	flag.Parse()
	if *osvDir == "" || *out == "" {
		log.Fatal("usage: vulndb -osv DIR -out DB")
	}
	files, err := filepath.Glob(filepath.Join(*osvDir, "GO-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no OSV entries in %s", *osvDir)
	}
	if err := os.MkdirAll(filepath.Join(*out, "ID"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(*out, "index"), 0o755); err != nil {
		log.Fatal(err)
	}
	modules := map[string]*moduleMeta{}
	var newest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		if e.ID == "" || strings.ContainsAny(e.ID, "/\\") {
			log.Fatalf("%s: bad id %q", f, e.ID)
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		if err := os.WriteFile(filepath.Join(*out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			log.Fatal(err)
		}
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &moduleMeta{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			v := moduleVuln{ID: e.ID, Modified: e.Modified}
			for _, r := range a.Ranges {
				for _, ev := range r.Events {
					if ev.Fixed != "" && (v.Fixed == "" || semverLess(v.Fixed, ev.Fixed)) {
						v.Fixed = ev.Fixed
					}
				}
			}
			m.Vulns = append(m.Vulns, v)
		}
	}
	list := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	if newest.Year() < 2000 {
		newest = time.Now().UTC().Truncate(time.Second)
	}
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, "index", name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("modules.json", list)
	write("db.json", map[string]time.Time{"modified": newest})
	fmt.Printf("%d entries, %d modules\n", len(files), len(list))
}

// semverLess compares two versions without a leading "v" (x.y.z[-pre]),
// numerically by release and treating a pre-release as earlier.
func semverLess(a, b string) bool {
	ra, pa, _ := strings.Cut(a, "-")
	rb, pb, _ := strings.Cut(b, "-")
	xa, xb := strings.Split(ra, "."), strings.Split(rb, ".")
	for i := 0; i < max(len(xa), len(xb)); i++ {
		var na, nb int
		if i < len(xa) {
			fmt.Sscan(xa[i], &na)
		}
		if i < len(xb) {
			fmt.Sscan(xb[i], &nb)
		}
		if na != nb {
			return na < nb
		}
	}
	switch {
	case pa == pb:
		return false
	case pa == "":
		return false
	case pb == "":
		return true
	}
	return pa < pb
}
