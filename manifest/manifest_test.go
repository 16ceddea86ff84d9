package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixture() *Manifest {
	t0 := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	return &Manifest{
		Schema: SchemaV1, Stream: "edge-logs", Sequence: 2,
		RunID:     "019abc00-0000-7000-8000-000000000001",
		Window:    Window{Start: t0.Add(-time.Hour), End: t0},
		StartedAt: t0, FinishedAt: t0.Add(3 * time.Second),
		Exporter: Exporter{Name: "logkeeper", Version: "1.0.0", Host: "archiver-1", User: "logkeeper"},
		Reason:   "scheduled",
		Store:    "s3://evidence/logkeeper",
		Source:   Source{Type: "dir", Location: "/var/log/edge"},
		Previous: &Link{Key: "edge-logs/manifests/00000000000000000001.json", SHA256: strings.Repeat("ab", 32)},
		Objects: []Object{
			{
				Key: "edge-logs/objects/019abc00-0000-7000-8000-000000000001/sip.log", VersionID: "v1", Size: 11,
				SHA256:    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
				Checksum:  Checksum{Algorithm: "SHA256", Type: ChecksumFullObject, Value: "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="},
				SSE:       &SSE{Algorithm: "aws:kms", KMSKeyID: "alias/logs", ServerKMSKeyID: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Context: map[string]string{"logkeeper:stream": "edge-logs"}},
				Retention: &Retention{Mode: "COMPLIANCE", RetainUntil: t0.AddDate(7, 0, 0)},
				Source:    Provenance{ID: "sip.log", Path: "sip.log", Size: 11, Modified: t0.Add(-time.Minute)},
			},
			{
				Key: "edge-logs/objects/019abc00-0000-7000-8000-000000000001/big.pcap", Size: 12 << 20,
				SHA256: strings.Repeat("0f", 32),
				Checksum: Checksum{Algorithm: "SHA256", Type: ChecksumComposite, Value: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-2", PartSize: 8 << 20,
					Parts: []string{"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
				Source: Provenance{ID: "big.pcap", Path: "big.pcap", Size: 12 << 20, IDs: map[string]string{"edge_id": "e1"}},
			},
		},
		Failures: []Failure{{ID: "locked.log", Path: "locked.log", Error: "open: permission denied"}},
		Skipped:  []Skip{{ID: "current", Path: "current", Reason: "symbolic link"}},
	}
}

func TestGolden(t *testing.T) {
	got, err := Marshal(fixture())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "v1.golden.json")
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
	m, err := Parse(want)
	if err != nil {
		t.Fatalf("parse golden: %v", err)
	}
	again, err := Marshal(m)
	if err != nil || !bytes.Equal(again, want) {
		t.Fatalf("parse+marshal is not the identity: %v", err)
	}
	if errs := m.CheckCommitments(); len(errs) != 0 {
		t.Fatalf("golden commitments: %v", errs)
	}
}

// A manifest written before sse.server_kms_key_id existed still parses,
// re-encodes to its exact bytes (so its signature and chain link hold) and
// keeps its commitments.
func TestParseBeforeServerKMSKeyID(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "v1.before-server-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old, []byte("server_kms_key_id")) {
		t.Fatal("the older manifest has the new field")
	}
	m, err := Parse(old)
	if err != nil {
		t.Fatalf("parse a manifest without server_kms_key_id: %v", err)
	}
	if sse := m.Objects[0].SSE; sse == nil || sse.KMSKeyID != "alias/logs" || sse.ServerKMSKeyID != "" {
		t.Fatalf("sse of the older manifest: %+v", sse)
	}
	again, err := Marshal(m)
	if err != nil || !bytes.Equal(again, old) {
		t.Fatalf("parse+marshal of the older manifest is not the identity: %v", err)
	}
	if errs := m.CheckCommitments(); len(errs) != 0 {
		t.Fatalf("older manifest commitments: %v", errs)
	}
}

func TestMerkleRoot(t *testing.T) {
	// RFC 6962: the empty tree hashes to SHA-256("").
	if r, _ := Root(nil); r != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %s", r)
	}
	objs := fixture().Objects
	r1, _ := Root(objs)
	r2, _ := Root([]Object{objs[1], objs[0]})
	if r1 == r2 {
		t.Fatal("root does not depend on order")
	}
	objs[0].Size++
	if r3, _ := Root(objs); r3 == r1 {
		t.Fatal("root does not depend on size")
	}
}

func TestCheckCommitments(t *testing.T) {
	m := fixture()
	if _, err := Marshal(m); err != nil {
		t.Fatal(err)
	}
	m.Objects[0], m.Objects[1] = m.Objects[1], m.Objects[0]
	m.Totals.Bytes++
	errs := m.CheckCommitments()
	var fields []string
	for _, e := range errs {
		var ce *CommitmentError
		if !errors.As(e, &ce) {
			t.Fatalf("not a CommitmentError: %v", e)
		}
		fields = append(fields, ce.Field)
	}
	if !reflect.DeepEqual(fields, []string{"totals.bytes", "merkle.root"}) {
		t.Fatalf("mismatches %v", fields)
	}
}

func TestParseRejects(t *testing.T) {
	good, err := Marshal(fixture())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	obj := func(m map[string]any) map[string]any { return m["objects"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{"), "decode"},
		{"trailing data", append(append([]byte{}, good...), []byte("{}")...), "trailing"},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), "unknown field"},
		{"other schema", edit(func(m map[string]any) { m["schema"] = "logkeeper.manifest/v2" }), "schema"},
		{"bad stream", edit(func(m map[string]any) { m["stream"] = "../x" }), "stream"},
		{"zero sequence", edit(func(m map[string]any) { m["sequence"] = 0 }), "sequence"},
		{"missing previous", edit(func(m map[string]any) { m["previous"] = nil }), "previous"},
		{"previous on first", edit(func(m map[string]any) { m["sequence"] = 1 }), "previous"},
		{"bad sha256", edit(func(m map[string]any) { obj(m)["sha256"] = "ABC" }), "sha256"},
		{"duplicate key", edit(func(m map[string]any) {
			o := m["objects"].([]any)
			m["objects"] = append(o, o[0])
		}), "twice"},
		{"bad checksum type", edit(func(m map[string]any) { obj(m)["checksum"].(map[string]any)["type"] = "CRC" }), "checksum"},
		{"bad retention", edit(func(m map[string]any) { obj(m)["retention"].(map[string]any)["mode"] = "FOREVER" }), "retention"},
		{"newline in key", edit(func(m map[string]any) { obj(m)["key"] = "a\nb" }), "newline"},
		{"window reversed", edit(func(m map[string]any) {
			w := m["window"].(map[string]any)
			w["start"], w["end"] = w["end"], w["start"]
		}), "window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	k := Key("edge", 42)
	if k != "edge/manifests/00000000000000000042.json" {
		t.Fatalf("Key = %s", k)
	}
	if n, ok := ParseKey("edge", k); !ok || n != 42 {
		t.Fatalf("ParseKey(%s) = %d %v", k, n, ok)
	}
	for _, bad := range []string{SignatureKey(k, "run"), "edge/manifests/42.json", "other/manifests/00000000000000000042.json", "edge/manifests/00000000000000000000.json"} {
		if _, ok := ParseKey("edge", bad); ok {
			t.Errorf("ParseKey accepted %s", bad)
		}
	}
}

// The published JSON Schema names exactly the fields the Go types encode.
func TestSchemaMatchesTypes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "schema", "manifest-v1.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	var check func(path string, node map[string]any, typ reflect.Type)
	check = func(path string, node map[string]any, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if ref, ok := node["$ref"].(string); ok {
			node = schema["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		if alts, ok := node["oneOf"].([]any); ok {
			for _, a := range alts {
				if am := a.(map[string]any); am["properties"] != nil {
					node = am
				}
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			check(path+"[]", items, typ)
			return
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(time.Time{}) {
			return
		}
		props, _ := node["properties"].(map[string]any)
		want := map[string]reflect.Type{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			want[name] = f.Type
			sub, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("schema %s lacks property %s", path, name)
				continue
			}
			check(path+"."+name, sub, f.Type)
		}
		for name := range props {
			if _, ok := want[name]; !ok {
				t.Errorf("schema %s has property %s the type does not", path, name)
			}
		}
	}
	check("manifest", schema, reflect.TypeOf(Manifest{}))
}

func FuzzParse(f *testing.F) {
	good, _ := Marshal(fixture())
	f.Add(good)
	f.Add([]byte(`{"schema":"logkeeper.manifest/v1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must encode again and parse to the same thing.
		_ = m.CheckCommitments()
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("parsed manifest does not encode: %v", err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v", err)
		}
	})
}
