package layers

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/logkeeper/logkeeper"

// rank of each top-level folder: a package may import only folders of a
// lower or equal rank, and folders of equal rank only when they do not
// import each other (checked for cycles below).
var rank = map[string]int{
	"cmd":      4,
	"tools":    4,
	"service":  3,
	"export":   2,
	"custody":  2,
	"manifest": 1,
	"policies": 1,
	"internal": 1,
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// folder returns the top-level folder of a package of this module, or "".
func folder(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	return top
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func TestLayers(t *testing.T) {
	for _, problem := range check(listPackages(t)) {
		t.Error(problem)
	}
}

// check returns every layering problem of the packages.
func check(pkgs []pkg) []string {
	var problems []string
	edges := map[string]map[string]bool{} // folder -> folders it imports
	for _, p := range pkgs {
		from := folder(p.ImportPath)
		if _, ok := rank[from]; !ok {
			problems = append(problems, fmt.Sprintf("%s: top-level folder %q has no layer (add it to rank and to the README's layout)", p.ImportPath, from))
			continue
		}
		for _, imp := range p.Imports {
			to := folder(imp)
			if to == "" || to == from {
				continue
			}
			if rank[to] > rank[from] {
				problems = append(problems, fmt.Sprintf("%s imports %s: %s (layer %d) may not import %s (layer %d)", p.ImportPath, imp, from, rank[from], to, rank[to]))
			}
			if edges[from] == nil {
				edges[from] = map[string]bool{}
			}
			edges[from][to] = true
		}
	}
	if cycle := findCycle(edges); cycle != nil {
		problems = append(problems, "top-level folders import each other: "+strings.Join(cycle, " -> "))
	}
	return problems
}

// findCycle returns a cycle in the folder graph, or nil.
func findCycle(edges map[string]map[string]bool) []string {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = open
		stack = append(stack, n)
		var next []string
		for m := range edges[n] {
			next = append(next, m)
		}
		sort.Strings(next)
		for _, m := range next {
			switch state[m] {
			case open:
				for i, s := range stack {
					if s == m {
						return append(append([]string{}, stack[i:]...), m)
					}
				}
			case unseen:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	var nodes []string
	for n := range edges {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

func TestFindCycle(t *testing.T) {
	tests := []struct {
		name  string
		edges map[string]map[string]bool
		want  string
	}{
		{"none", map[string]map[string]bool{"a": {"b": true}, "b": {"c": true}}, ""},
		{"direct", map[string]map[string]bool{"a": {"b": true}, "b": {"a": true}}, "a -> b -> a"},
		{"through another", map[string]map[string]bool{"a": {"b": true}, "b": {"c": true}, "c": {"a": true}}, "a -> b -> c -> a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(findCycle(tt.edges), " -> ")
			if got != tt.want {
				t.Errorf("findCycle = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckRejectsUpwardImports(t *testing.T) {
	pkgs := []pkg{
		{ImportPath: module + "/internal/store", Imports: []string{module + "/custody", "io"}},
		{ImportPath: module + "/custody", Imports: []string{module + "/internal/store"}},
		{ImportPath: module + "/newtop/x"},
	}
	got := strings.Join(check(pkgs), "\n")
	for _, want := range []string{
		"internal (layer 1) may not import custody (layer 2)",
		"top-level folders import each other: custody -> internal -> custody",
		`top-level folder "newtop" has no layer`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check found:\n%s\nwant a line with %q", got, want)
		}
	}
	if got := check([]pkg{{ImportPath: module + "/custody", Imports: []string{module + "/internal/store"}}}); len(got) != 0 {
		t.Errorf("check of a downward import found %v", got)
	}
}
