package genesys

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// FuzzDecoders feeds every decoder of Genesys answers the same bytes: none
// may panic, and an accepted answer must hold what the sources rely on.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"entities":[{"id":"e1","name":"edge"}],"pageSize":100,"pageNumber":1,"total":1,"pageCount":1}`,
		`{"id":"j1","files":[{"id":"f1","name":"a.log","edgePath":"logs/a.log","timeModified":"2026-11-25T10:00:00.000Z","sizeBytes":12,"uploadStatus":"Uploaded","downloadId":"d1"}]}`,
		`{"id":"j1"}`,
		`{"url":"https://s3.example.com/x?sig=1"}`,
		`{"id":"q1","state":"Succeeded"}`,
		`{"id":"q1","pageSize":2,"cursor":"abc","entities":[{"id":"a"},{"id":"b"}]}`,
		`{"message":"You are missing the following permission(s): [telephony:plugin:all]","code":"missing.any.permissions","status":403,"messageParams":{"p":"audits:audit:view"}}`,
		`{"error":"invalid_client"}`,
		`[]`, `null`, `{"files":null}`, `{"entities":[null]}`, `{"files":[{"id":"x","sizeBytes":-1}]}`,
		// As the published models have them: sizeBytes a double, upload
		// states upper case, edges with onlineStatus, unknown enums.
		`{"id":"j1","files":[{"id":"f1","edgePath":"a.log","sizeBytes":1234.0,"uploadStatus":"UPLOADED","downloadId":"d1"},{"id":"f2","edgePath":"b.log","sizeBytes":1.5e3,"uploadStatus":"UPLOADING"}]}`,
		`{"id":"j1","files":[{"id":"f1","edgePath":"a.log","sizeBytes":12.5},{"id":"f2","edgePath":"b.log","sizeBytes":"12"},{"id":3},{"id":"f4","edgePath":"c","sizeBytes":1e300},{"id":"f1","edgePath":"d","sizeBytes":1}]}`,
		`{"id":"j1","files":[{"id":"f1","edgePath":"a.log","sizeBytes":9007199254740993,"uploadStatus":"QUEUED_AT_EDGE","timeModified":"yesterday"}]}`,
		`{"entities":[{"id":"e1","name":"edge","state":"inactive","onlineStatus":"OFFLINE","edgeDeploymentType":"CDM"},{"id":"e2","onlineStatus":"DEGRADED"}],"pageCount":1}`,
		`{"id":"q1","state":"Pending"}`, `{"id":"q1","state":"succeeded"}`,
		`{"message":"Rate limit exceeded","code":"too.many.requests","status":429,"contextId":"c0ffee","details":[{"errorCode":"x"}],"errors":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := decodeEdgeListing(data); err == nil {
			for _, e := range l.Entities {
				if e.ID == "" {
					t.Fatal("accepted an edge without id")
				}
			}
		}
		if j, err := decodeLogJob(data); err == nil {
			for _, fl := range j.Files {
				if fl.ID == "" || fl.path() == "" || fl.Size < 0 || fl.Size > maxExactSize {
					t.Fatalf("accepted file %+v", fl)
				}
			}
			for _, b := range j.Bad {
				if b.Err == nil || !errors.Is(b.Err, ErrMalformed) {
					t.Fatalf("bad file without a malformed error: %+v", b)
				}
			}
		}
		if r, err := decodeID(data); err == nil && r.ID == "" {
			t.Fatal("accepted an answer without id")
		}
		_, _ = decodeDownloadURL(data)
		_, _ = decodeOrganization(data)
		if st, err := decodeAuditStatus(data); err == nil && st.ID == "" {
			t.Fatal("accepted an audit status without id")
		}
		if r, err := decodeAuditResults(data); err == nil {
			for _, e := range r.Entities {
				_, _ = auditLine(nil, e)
			}
		}
		_, _ = decodeErrorBody(data)
		_ = isThrottle(data)
		_ = isPermission(data)
		_ = missingPermissions(data)
	})
}

// FuzzHeaders: header and range parsers never panic.
func FuzzHeaders(f *testing.F) {
	f.Add("300", "12", "45", "3", "bytes 0-9/10")
	f.Add("", "", "", "Wed, 25 Nov 2026 12:00:00 GMT", "bytes 5-9/*")
	f.Fuzz(func(t *testing.T, allowed, count, reset, after, cr string) {
		h := http.Header{}
		h.Set("inin-ratelimit-allowed", allowed)
		h.Set("inin-ratelimit-count", count)
		h.Set("inin-ratelimit-reset", reset)
		h.Set("Retry-After", after)
		if r := parseRateHeaders(h); r.ok && (r.allowed <= 0 || r.count < 0 || r.reset < 0) {
			t.Fatalf("accepted %+v", r)
		}
		_ = retryAfter(h, time.Time{})
		if s, tot, ok := parseContentRange(cr); ok && (s < 0 || tot < -1) {
			t.Fatalf("accepted %q as %d/%d", cr, s, tot)
		}
	})
}

// FuzzParseAuditFilters: the filter parser never panics and never accepts
// an empty property or value.
func FuzzParseAuditFilters(f *testing.F) {
	f.Add("Action=Delete&EntityType=Flow")
	f.Add("a=%zz")
	f.Add("&&=")
	f.Fuzz(func(t *testing.T, q string) {
		fs, err := ParseAuditFilters(q)
		if err != nil {
			return
		}
		for _, x := range fs {
			if x.Property == "" || x.Value == "" {
				t.Fatalf("accepted %q as %+v", q, fs)
			}
		}
	})
}
