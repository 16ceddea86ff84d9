package genesys

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeLogJob(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		listed bool
		files  int
		// bad is the field the error of each unusable file names.
		bad []string
	}{
		{"not listed yet", `{"id":"j1"}`, false, 0, nil},
		{"listed empty", `{"id":"j1","files":[]}`, true, 0, nil},
		{"listed", `{"id":"j1","files":[{"id":"f1","edgePath":"logs/a.log","sizeBytes":10,"timeModified":"2026-11-25T10:00:00.000Z"},{"id":"f2","name":"b.log","sizeBytes":0}]}`, true, 2, nil},
		{"size a double", `{"files":[{"id":"f1","name":"a","sizeBytes":1234.0},{"id":"f2","name":"b","sizeBytes":1.5e3},{"id":"f3","name":"c","sizeBytes":9007199254740992}]}`, true, 3, nil},
		{"file without id", `{"files":[{"edgePath":"a","sizeBytes":1}]}`, true, 0, []string{"files[0].id is missing"}},
		{"file without path or name", `{"files":[{"id":"f1","sizeBytes":1}]}`, true, 0, []string{"files[0].edgePath and name"}},
		{"file without size", `{"files":[{"id":"f1","name":"a"}]}`, true, 0, []string{"files[0].sizeBytes is missing"}},
		{"negative size", `{"files":[{"id":"f1","name":"a","sizeBytes":-1}]}`, true, 0, []string{"files[0].sizeBytes: -1"}},
		{"fractional size", `{"files":[{"id":"f1","name":"a","sizeBytes":1.5}]}`, true, 0, []string{"files[0].sizeBytes: 1.5"}},
		{"size past 2^53", `{"files":[{"id":"f1","name":"a","sizeBytes":9007199254740993}]}`, true, 0, []string{"files[0].sizeBytes"}},
		{"size a string", `{"files":[{"id":"f1","name":"a","sizeBytes":"ten"}]}`, true, 0, []string{"files[0].sizeBytes"}},
		{"id a number", `{"files":[{"id":7,"name":"a","sizeBytes":1},{"id":"f2","name":"b","sizeBytes":2}]}`, true, 1, []string{"files[0].id: a JSON number"}},
		{"duplicate id", `{"files":[{"id":"f1","name":"a","sizeBytes":1},{"id":"f1","name":"b","sizeBytes":1}]}`, true, 1, []string{"files[1].id f1 is listed twice"}},
		{"bad time", `{"files":[{"id":"f1","name":"a","sizeBytes":1,"timeModified":"yesterday"}]}`, true, 0, []string{"files[0].timeModified"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := decodeLogJob([]byte(tt.body))
			if err != nil || (j.Files != nil) != tt.listed || len(j.Files) != tt.files || len(j.Bad) != len(tt.bad) {
				t.Fatalf("got %+v, %v", j, err)
			}
			for i, b := range j.Bad {
				if !errors.Is(b.Err, ErrMalformed) || !strings.Contains(b.Err.Error(), tt.bad[i]) {
					t.Errorf("bad file %d: %v, want ErrMalformed naming %q", i, b.Err, tt.bad[i])
				}
			}
		})
	}
	for _, body := range []string{`<html>`, `{"id":"j1","files":[{"id":`, `{"files":{}}`} {
		if _, err := decodeLogJob([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", body, err)
		}
	}
	j, _ := decodeLogJob([]byte(`{"files":[{"id":"f1","edgePath":"x","sizeBytes":3.0,"uploadStatus":"uploaded","timeModified":"2026-11-25T10:00:00.123+01:00"}]}`))
	if want := time.Date(2026, 11, 25, 9, 0, 0, 123e6, time.UTC); !j.Files[0].modified.Equal(want) || j.Files[0].Size != 3 || j.Files[0].SizeText != "3.0" || j.Files[0].UploadStatus != uploadUploaded {
		t.Fatalf("file %+v", j.Files[0])
	}
}

func TestDecodeEnums(t *testing.T) {
	st, err := decodeAuditStatus([]byte(`{"id":"q","state":"Pending"}`))
	if err != nil || st.known() {
		t.Fatalf("unknown audit state: %+v %v, want accepted and unknown", st, err)
	}
	st, _ = decodeAuditStatus([]byte(`{"id":"q","state":"succeeded"}`))
	if st.State != auditSucceeded {
		t.Fatalf("state %q, want %q", st.State, auditSucceeded)
	}
	l, err := decodeEdgeListing([]byte(`{"entities":[{"id":"a","onlineStatus":"OFFLINE"},{"id":"b","state":"inactive"},{"id":"c","onlineStatus":"ONLINE","state":"active"},{"id":"d","onlineStatus":"DEGRADED"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		skip  bool
		known bool
	}{{true, true}, {true, true}, {false, true}, {false, false}}
	for i, e := range l.Entities {
		if (e.notCollected() != "") != want[i].skip || e.knownEnums() != want[i].known {
			t.Errorf("edge %s: notCollected %q known %v", e.ID, e.notCollected(), e.knownEnums())
		}
	}
	eb, _ := decodeErrorBody([]byte(`{"message":"m","code":"c","status":400,"contextId":"ctx-1"}`))
	if eb.ContextID != "ctx-1" {
		t.Fatalf("contextId %q", eb.ContextID)
	}
}

func TestClassify403(t *testing.T) {
	tests := []struct {
		body       string
		throttle   bool
		permission bool
		perms      []string
	}{
		{`{"code":"waf_block"}`, true, false, nil},
		{`<html>Request blocked: WAF_BLOCK</html>`, true, false, nil},
		{`{"message":"rate_limit_exceeded"}`, true, false, nil},
		{`{"message":"You are missing the following permission(s): [telephony:plugin:all, audits:audit:view]","code":"missing.any.permissions"}`, false, true, []string{"audits:audit:view", "telephony:plugin:all"}},
		{`{"code":"missing.permissions","messageParams":{"perms":"telephony:plugin:all"}}`, false, true, []string{"telephony:plugin:all"}},
		{`{"code":"org.suspended","message":"suspended"}`, false, false, nil},
		{``, false, false, nil},
	}
	for _, tt := range tests {
		if got := isThrottle([]byte(tt.body)); got != tt.throttle {
			t.Errorf("isThrottle(%s) = %v", tt.body, got)
		}
		if got := isPermission([]byte(tt.body)); got != tt.permission {
			t.Errorf("isPermission(%s) = %v", tt.body, got)
		}
		if got := missingPermissions([]byte(tt.body)); !slices.Equal(got, tt.perms) {
			t.Errorf("missingPermissions(%s) = %v, want %v", tt.body, got, tt.perms)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		v            string
		start, total int64
		ok           bool
	}{
		{"bytes 0-99/100", 0, 100, true},
		{"bytes 50-99/100", 50, 100, true},
		{"bytes 50-99/*", 50, -1, true},
		{"bytes 50-99/99", 0, 0, false},
		{"bytes 99-50/100", 0, 0, false},
		{"bytes */100", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		s, tot, ok := parseContentRange(tt.v)
		if ok != tt.ok || ok && (s != tt.start || tot != tt.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tt.v, s, tot, ok)
		}
	}
}

func TestAuditLineIsCanonical(t *testing.T) {
	a, err := auditLine(nil, []byte("{ \"id\" : \"1\",\n \"x\": [1, 2] }"))
	if err != nil || string(a) != `{"id":"1","x":[1,2]}`+"\n" {
		t.Fatalf("%q, %v", a, err)
	}
	if _, err := auditLine(nil, []byte(`{"id":`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad entity: %v", err)
	}
}
