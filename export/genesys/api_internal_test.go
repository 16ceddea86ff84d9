package genesys

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestDecodeLogJob(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		listed  bool
		files   int
		wantErr bool
	}{
		{"not listed yet", `{"id":"j1"}`, false, 0, false},
		{"listed empty", `{"id":"j1","files":[]}`, true, 0, false},
		{"listed", `{"id":"j1","files":[{"id":"f1","edgePath":"logs/a.log","sizeBytes":10,"timeModified":"2026-11-25T10:00:00.000Z"},{"id":"f2","name":"b.log","sizeBytes":0}]}`, true, 2, false},
		{"file without id", `{"files":[{"edgePath":"a","sizeBytes":1}]}`, false, 0, true},
		{"file without path or name", `{"files":[{"id":"f1","sizeBytes":1}]}`, false, 0, true},
		{"negative size", `{"files":[{"id":"f1","name":"a","sizeBytes":-1}]}`, false, 0, true},
		{"fractional size", `{"files":[{"id":"f1","name":"a","sizeBytes":1.5}]}`, false, 0, true},
		{"duplicate id", `{"files":[{"id":"f1","name":"a"},{"id":"f1","name":"b"}]}`, false, 0, true},
		{"bad time", `{"files":[{"id":"f1","name":"a","timeModified":"yesterday"}]}`, false, 0, true},
		{"not JSON", `<html>`, false, 0, true},
		{"truncated", `{"id":"j1","files":[{"id":`, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := decodeLogJob([]byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || (j.Files != nil) != tt.listed || len(j.Files) != tt.files {
				t.Fatalf("got %+v, %v", j, err)
			}
		})
	}
	j, _ := decodeLogJob([]byte(`{"files":[{"id":"f1","edgePath":"x","timeModified":"2026-11-25T10:00:00.123+01:00"}]}`))
	if want := time.Date(2026, 11, 25, 9, 0, 0, 123e6, time.UTC); !j.Files[0].modified.Equal(want) {
		t.Fatalf("modified %v, want %v", j.Files[0].modified, want)
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
