package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret = "id", "secret"
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func getToken(t *testing.T, srv *httptest.Server, id, secret string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp, v.AccessToken
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestTokensPerMinute(t *testing.T) {
	s, srv := newTestServer(t, Config{TokensPerMinute: 5})
	if resp, _ := getToken(t, srv, "id", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", resp.StatusCode)
	}
	for i := range 5 {
		if resp, tok := getToken(t, srv, "id", "secret"); resp.StatusCode != 200 || tok == "" {
			t.Fatalf("token %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := getToken(t, srv, "id", "secret")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth token in a minute: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st := s.Stats(); st.TokensIssued != 5 || st.TokensThrottled != 1 || st.TokensRefused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRequestRateAndHeaders(t *testing.T) {
	s, srv := newTestServer(t, Config{RequestsPerWindow: 3, Window: time.Minute})
	_, tok := getToken(t, srv, "id", "secret")
	if resp, _ := call(t, srv, "GET", "/api/v2/organizations/me", "", ""); resp.StatusCode != 401 {
		t.Fatalf("without token: %d", resp.StatusCode)
	}
	for i := 1; i <= 3; i++ {
		resp, _ := call(t, srv, "GET", "/api/v2/organizations/me", tok, "")
		if resp.StatusCode != 200 || resp.Header.Get("inin-ratelimit-count") != fmt.Sprint(i) ||
			resp.Header.Get("inin-ratelimit-allowed") != "3" || resp.Header.Get("inin-ratelimit-reset") == "" ||
			resp.Header.Get("ININ-Correlation-Id") == "" {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	resp, _ := call(t, srv, "GET", "/api/v2/organizations/me", tok, "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth request: %d", resp.StatusCode)
	}
	if st := s.Stats(); st.RateLimited != 1 || st.Unauthorized != 1 || st.Requests != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInFlightCap(t *testing.T) {
	s, srv := newTestServer(t, Config{MaxInFlight: 5, Latency: 100 * time.Millisecond})
	_, tok := getToken(t, srv, "id", "secret")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var blockedBody string
	for range 20 {
		wg.Go(func() {
			resp, b := call(t, srv, "GET", "/api/v2/organizations/me", tok, "")
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 403 {
				blockedBody = string(b)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[403] == 0 || codes[200] == 0 || codes[200] > 15 || !strings.Contains(blockedBody, "waf_block") {
		t.Fatalf("answers %v, body %q", codes, blockedBody)
	}
	if st := s.Stats(); st.Blocked != int64(codes[403]) {
		t.Fatalf("stats %+v", st)
	}
}

func TestPermissions(t *testing.T) {
	_, srv := newTestServer(t, Config{Permissions: []string{PermAudit}})
	_, tok := getToken(t, srv, "id", "secret")
	resp, b := call(t, srv, "GET", "/api/v2/telephony/providers/edges", tok, "")
	if resp.StatusCode != 403 || !strings.Contains(string(b), PermTelephony) {
		t.Fatalf("edges without permission: %d %s", resp.StatusCode, b)
	}
	if resp, _ := call(t, srv, "GET", "/api/v2/organizations/me", tok, ""); resp.StatusCode != 200 {
		t.Fatalf("organization: %d", resp.StatusCode)
	}
}

// TestEdgeLogFlow walks a log job through listing, upload, URL and Range
// download, and checks the bytes.
func TestEdgeLogFlow(t *testing.T) {
	edges := GenerateEdges(9, 2, 3, 10_000, 10_000, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	s, srv := newTestServer(t, Config{Seed: 9, Edges: edges, UploadDelay: 20 * time.Millisecond, URLTTL: 200 * time.Millisecond})
	_, tok := getToken(t, srv, "id", "secret")
	e := edges[1]
	resp, b := call(t, srv, "POST", "/api/v2/telephony/providers/edges/"+e.ID+"/logs/jobs", tok, `{"recurse":true}`)
	var job struct{ ID string }
	_ = json.Unmarshal(b, &job)
	if resp.StatusCode != 202 || job.ID == "" {
		t.Fatalf("create job: %d %s", resp.StatusCode, b)
	}
	jobPath := "/api/v2/telephony/providers/edges/" + e.ID + "/logs/jobs/" + job.ID
	var listing struct {
		Files []struct {
			ID, EdgePath, UploadStatus, DownloadID string
			SizeBytes                              float64
		}
	}
	_, b = call(t, srv, "GET", jobPath, tok, "")
	_ = json.Unmarshal(b, &listing)
	if len(listing.Files) != 3 || listing.Files[0].UploadStatus != "NOT_UPLOADED" || !bytes.Contains(b, []byte(`"sizeBytes":10000.0`)) {
		t.Fatalf("listing %s", b)
	}
	f := listing.Files[0]
	if resp, _ := call(t, srv, "POST", jobPath+"/upload", tok, `{"fileIds":["`+f.ID+`"]}`); resp.StatusCode != 202 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	_, b = call(t, srv, "GET", jobPath, tok, "")
	_ = json.Unmarshal(b, &listing)
	if listing.Files[0].UploadStatus != "UPLOADING" || listing.Files[0].DownloadID == "" {
		t.Fatalf("while uploading: %s", b)
	}
	// The download id is issued while UPLOADING; its download is not found
	// until the file is UPLOADED.
	if resp, _ := call(t, srv, "GET", "/api/v2/downloads/"+listing.Files[0].DownloadID+"?issueRedirect=false", tok, ""); resp.StatusCode != 404 {
		t.Fatalf("download while uploading: %d, want 404", resp.StatusCode)
	}
	time.Sleep(30 * time.Millisecond)
	_, b = call(t, srv, "GET", jobPath, tok, "")
	_ = json.Unmarshal(b, &listing)
	if listing.Files[0].UploadStatus != "UPLOADED" || listing.Files[0].DownloadID == "" {
		t.Fatalf("after upload: %s", b)
	}
	_, b = call(t, srv, "GET", "/api/v2/downloads/"+listing.Files[0].DownloadID+"?issueRedirect=false", tok, "")
	var du struct{ URL string }
	_ = json.Unmarshal(b, &du)
	if _, err := url.Parse(du.URL); err != nil || du.URL == "" {
		t.Fatalf("download URL %s", b)
	}
	want, _ := io.ReadAll(Content(9, e.ID, f.EdgePath, int64(f.SizeBytes)))
	resp, got := call(t, srv, "GET", strings.TrimPrefix(du.URL, srv.URL), "", "")
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
	}
	req, _ := http.NewRequest("GET", du.URL, nil)
	req.Header.Set("Range", "bytes=4000-")
	rresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if rresp.StatusCode != 206 || !bytes.Equal(part, want[4000:]) || rresp.Header.Get("Content-Range") != "bytes 4000-9999/10000" {
		t.Fatalf("range: %d %q, %d bytes", rresp.StatusCode, rresp.Header.Get("Content-Range"), len(part))
	}
	time.Sleep(250 * time.Millisecond)
	if resp, b := call(t, srv, "GET", strings.TrimPrefix(du.URL, srv.URL), "", ""); resp.StatusCode != 403 || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired URL: %d %s", resp.StatusCode, b)
	}
	if st := s.Stats(); st.ExpiredURLs != 1 || st.RangeRequests != 1 || st.Downloads != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestContentIsDeterministicAtAnyOffset(t *testing.T) {
	all, _ := io.ReadAll(Content(1, "e", "p", 20_000))
	again, _ := io.ReadAll(Content(1, "e", "p", 20_000))
	other, _ := io.ReadAll(Content(2, "e", "p", 20_000))
	if !bytes.Equal(all, again) || bytes.Equal(all, other) || len(all) != 20_000 {
		t.Fatal("content not deterministic per seed")
	}
	part := make([]byte, 5000)
	if _, err := (contentAt{key: contentKey(1, "e", "p")}).ReadAt(part, 7777); err != nil || !bytes.Equal(part, all[7777:12777]) {
		t.Fatal("ReadAt differs from the stream")
	}
	if all[63] != '\n' || bytes.IndexByte(all[:63], '\n') >= 0 {
		t.Fatal("lines are not 64 bytes")
	}
}

func TestAuditPaging(t *testing.T) {
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	recs := GenerateAuditRecords(5, 50, start, time.Minute)
	_, srv := newTestServer(t, Config{AuditRecords: recs})
	_, tok := getToken(t, srv, "id", "secret")
	body := fmt.Sprintf(`{"interval":"%s/%s"}`, start.Format(time.RFC3339), start.Add(30*time.Minute).Format(time.RFC3339))
	_, b := call(t, srv, "POST", "/api/v2/audits/query", tok, body)
	var q struct{ ID, State string }
	_ = json.Unmarshal(b, &q)
	_, b = call(t, srv, "GET", "/api/v2/audits/query/"+q.ID, tok, "")
	if !strings.Contains(string(b), "Succeeded") {
		t.Fatalf("state %s", b)
	}
	cursor, n := "", 0
	for range 10 {
		_, b = call(t, srv, "GET", "/api/v2/audits/query/"+q.ID+"/results?pageSize=7&cursor="+url.QueryEscape(cursor), tok, "")
		var page struct {
			Cursor   string
			Entities []json.RawMessage
		}
		_ = json.Unmarshal(b, &page)
		n += len(page.Entities)
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	if n != 30 {
		t.Fatalf("%d records in 30 minutes, want 30", n)
	}
}
