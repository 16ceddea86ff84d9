package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The loader decodes YAML in two steps. yaml.v3 parses the text into a node
// tree; the decoder below walks that tree against the yaml tags of the
// Config types, so that unknown keys, duplicate keys and values of the wrong
// type are reported with their key path and line, all of them at once. The
// validator (validate.go) then checks the decoded values.

// fieldInfo is what the decoder learnt about one key path.
type fieldInfo struct {
	line int    // line of the key (or list item)
	raw  string // the value as written, when it held a ${NAME} reference
	bad  bool   // a problem was reported here: skip further checks
}

type decoder struct {
	lookup   func(string) (string, bool)
	fields   map[string]*fieldInfo
	problems []error
	seen     map[FieldError]bool
	active   map[*yaml.Node]bool // anchored nodes being walked, to stop cycles
	budget   int                 // nodes left to visit, to stop alias bombs
}

func newDecoder(lookup func(string) (string, bool), size int) *decoder {
	return &decoder{
		lookup: lookup,
		fields: map[string]*fieldInfo{},
		seen:   map[FieldError]bool{},
		active: map[*yaml.Node]bool{},
		budget: 100_000 + 16*size,
	}
}

// parseYAML parses data into a node tree. It returns nil for an empty
// document.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("parse config: %w", err)
	default:
		return nil, &FieldError{Path: rootPath, Line: next.Line, Msg: "holds more than one YAML document"}
	}
	return &doc, nil
}

func (d *decoder) info(path string) *fieldInfo {
	fi := d.fields[path]
	if fi == nil {
		fi = &fieldInfo{}
		d.fields[path] = fi
	}
	return fi
}

// problem records a problem at path and marks the path bad.
func (d *decoder) problem(path string, line int, format string, args ...any) {
	d.info(path).bad = true
	if path == "" {
		path = rootPath
	}
	fe := FieldError{Path: path, Line: line, Msg: oneLine(fmt.Sprintf(format, args...))}
	if d.seen[fe] {
		return // a node reached twice through an alias
	}
	d.seen[fe] = true
	d.problems = append(d.problems, &fe)
}

// spend uses up n units of the visit budget and reports whether any is left.
func (d *decoder) spend(n int) bool {
	if d.budget < 0 {
		return false
	}
	d.budget -= n
	if d.budget < 0 {
		d.problem("", 0, "too many alias expansions")
		return false
	}
	return true
}

func (d *decoder) decodeRoot(doc *yaml.Node, cfg *Config) {
	if doc == nil || len(doc.Content) == 0 {
		return // an empty file: the validator reports the missing keys
	}
	d.decode("", doc.Content[0].Line, doc.Content[0], reflect.ValueOf(cfg).Elem())
}

// setDefaulter is implemented by list elements that have defaults.
type setDefaulter interface{ setDefaults() }

var durationType = reflect.TypeFor[time.Duration]()

// decode decodes n into v. line is where the key (or list item) is. A null
// value leaves v as it is, holding its default.
func (d *decoder) decode(path string, line int, n *yaml.Node, v reflect.Value) {
	if !d.spend(1) {
		return
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || d.active[target] {
			d.problem(path, line, "alias *%s refers to a value that contains it", n.Value)
			return
		}
		d.active[target] = true
		defer delete(d.active, target)
		n = target
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	d.info(path).line = line

	if v.Type() == durationType {
		if s, ok := d.scalar(path, line, n, "a duration"); ok {
			dur, err := time.ParseDuration(s)
			if err != nil {
				d.problem(path, line, "must be a duration such as 30s or 1h30m, got %s", d.show(path, s))
				return
			}
			v.SetInt(int64(dur))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		d.decodeSlice(path, line, n, v)
	case reflect.Map:
		d.decodeMap(path, line, n, v)
	case reflect.String:
		if s, ok := d.scalar(path, line, n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(path, line, n, "true or false"); ok {
			switch strings.ToLower(s) {
			case "true", "yes", "on":
				v.SetBool(true)
			case "false", "no", "off":
				v.SetBool(false)
			default:
				d.problem(path, line, "must be true or false, got %s", d.show(path, s))
			}
		}
	case reflect.Int:
		if s, ok := d.scalar(path, line, n, "an integer"); ok {
			i, err := strconv.Atoi(s)
			if err != nil {
				d.problem(path, line, "must be an integer, got %s", d.show(path, s))
				return
			}
			v.SetInt(int64(i))
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// scalar returns the expanded text of a scalar node.
func (d *decoder) scalar(path string, line int, n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(path, line, "must be %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.problem(path, line, "%v", err)
		return "", false
	}
	if strings.Contains(n.Value, "${") {
		d.info(path).raw = n.Value
	}
	return s, true
}

// show quotes a value for an error message. A value that came from the
// environment may be a secret: show the reference as written instead.
func (d *decoder) show(path, s string) string {
	return showValue(d.fields, path, s)
}

func showValue(fields map[string]*fieldInfo, path, s string) string {
	if fi := fields[path]; fi != nil && fi.raw != "" {
		return fmt.Sprintf("the expansion of %q", fi.raw)
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	default:
		return "a single value"
	}
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n.Line, "must be a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	for _, p := range d.pairs(path, n, join) {
		key := p.key.Value
		kp := join(path, key)
		i, ok := fields[key]
		if !ok {
			if s := suggest(key, fields); s != "" {
				d.problem(kp, p.key.Line, "unknown key; did you mean %q?", s)
			} else {
				d.problem(kp, p.key.Line, "unknown key")
			}
			continue
		}
		d.decode(kp, p.key.Line, p.value, v.Field(i))
	}
}

func (d *decoder) decodeSlice(path string, line int, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.problem(path, line, "must be a list, got %s", kindName(n))
		return
	}
	if !d.spend(len(n.Content)) {
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		e := reflect.New(v.Type().Elem())
		if sd, ok := e.Interface().(setDefaulter); ok {
			sd.setDefaults()
		}
		d.decode(index(path, i), item.Line, item, e.Elem())
		s = reflect.Append(s, e.Elem())
	}
	v.Set(s)
}

func (d *decoder) decodeMap(path string, line int, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, line, "must be a mapping, got %s", kindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(path, n, mapKey) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(mapKey(path, p.key.Value), p.key.Line, p.value, e)
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of a mapping, in order, with merge keys
// (<<: *anchor) applied: keys written in the mapping win over merged ones,
// and earlier merged mappings win over later ones. It reports duplicate and
// non-string keys. keyPath builds a key's path for messages.
func (d *decoder) pairs(path string, n *yaml.Node, keyPath func(string, string) string) []pair {
	if !d.spend(len(n.Content)) {
		return nil
	}
	var out []pair
	var merges []*yaml.Node
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.problem(path, k.Line, "keys must be single values, got %s", kindName(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.problem(keyPath(path, k.Value), k.Line, "duplicate key, first at line %d", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, pair{k, val})
	}
	for _, m := range merges {
		for _, p := range d.merged(path, m, keyPath) {
			if _, ok := first[p.key.Value]; !ok {
				first[p.key.Value] = p.key.Line
				out = append(out, p)
			}
		}
	}
	return out
}

// merged returns the pairs a merge key's value brings in: a mapping, or a
// list of mappings where earlier ones win.
func (d *decoder) merged(path string, m *yaml.Node, keyPath func(string, string) string) []pair {
	if m.Kind == yaml.AliasNode {
		target := m.Alias
		if target == nil || d.active[target] {
			d.problem(path, m.Line, "alias *%s refers to a value that contains it", m.Value)
			return nil
		}
		d.active[target] = true
		defer delete(d.active, target)
		m = target
	}
	switch m.Kind {
	case yaml.MappingNode:
		return d.pairs(path, m, keyPath)
	case yaml.SequenceNode:
		var out []pair
		have := map[string]bool{}
		for _, item := range m.Content {
			if item.Kind == yaml.SequenceNode {
				d.problem(path, item.Line, "<< must merge a mapping or a list of mappings")
				continue
			}
			for _, p := range d.merged(path, item, keyPath) {
				if !have[p.key.Value] {
					have[p.key.Value] = true
					out = append(out, p)
				}
			}
		}
		return out
	default:
		d.problem(path, m.Line, "<< must merge a mapping or a list of mappings, got %s", kindName(m))
		return nil
	}
}

// yamlFields maps the yaml tag names of t's fields to their index.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

// suggest returns the known key closest to an unknown one, if it is close.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || dist == bestDist && best != "" && name < best {
			best, bestDist = name, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
