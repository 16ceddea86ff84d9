package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// blobServer serves one blob; answer decides, per GET (0-based), how.
type blobServer struct {
	data   []byte
	gets   atomic.Int64
	answer func(n int, w http.ResponseWriter, r *http.Request, b *blobServer)
}

func (b *blobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v2/downloads/") {
		answer(200, fmt.Sprintf(`{"url":"http://%s/blob?fresh=1"}`, r.Host))(w, r)
		return
	}
	if r.URL.Path == "/oauth/token" {
		answer(200, `{"access_token":"t","expires_in":3600}`)(w, r)
		return
	}
	b.answer(int(b.gets.Add(1)-1), w, r, b)
}

// serve writes the blob from the Range start, or all of it; cut > 0 sends
// only cut bytes and breaks the connection.
func (b *blobServer) serve(w http.ResponseWriter, r *http.Request, honourRange bool, cut int) {
	start := 0
	if rg := r.Header.Get("Range"); honourRange && rg != "" {
		start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(b.data)-1, len(b.data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(b.data)-start))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(b.data)))
	}
	body := b.data[start:]
	if cut > 0 && cut < len(body) {
		_, _ = w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write(body)
}

func TestDownload(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	tests := []struct {
		name    string
		answer  func(n int, w http.ResponseWriter, r *http.Request, b *blobServer)
		wantErr string // "" for success
		check   func(Stats) bool
	}{
		{"whole", func(_ int, w http.ResponseWriter, r *http.Request, b *blobServer) { b.serve(w, r, true, 0) }, "",
			func(s Stats) bool { return s.Downloads == 1 && s.BytesDownloaded == int64(len(data)) }},
		{"short body resumed with Range", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			if n < 2 {
				b.serve(w, r, true, 1000+n*7000)
				return
			}
			b.serve(w, r, true, 0)
		}, "", func(s Stats) bool { return s.Resumes == 2 && s.Downloads == 3 }},
		{"server that ignores Range", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			b.serve(w, r, false, map[int]int{0: 5000}[n])
		}, "", func(s Stats) bool { return s.Resumes == 1 }},
		{"5xx retried", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			if n == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			b.serve(w, r, true, 0)
		}, "", func(s Stats) bool { return s.ServerErrors == 1 }},
		{"expired URL resolved again", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			if r.URL.Query().Get("fresh") == "" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, "<Error><Message>Request has expired</Message></Error>")
				return
			}
			b.serve(w, r, true, 0)
		}, "", func(s Stats) bool { return s.URLRefreshes == 1 }},
		{"expired as 400", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			if r.URL.Query().Get("fresh") == "" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, "token expired")
				return
			}
			b.serve(w, r, true, 0)
		}, "", func(s Stats) bool { return s.URLRefreshes == 1 }},
		{"always expired", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			w.WriteHeader(http.StatusForbidden)
		}, "refused 3 times", nil},
		{"always cut short", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			b.serve(w, r, true, 100)
		}, "broke off 3 times", nil},
		{"size differs from the listing", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write(b.data[:10])
		}, "the log job lists 65536", nil},
		{"wrong Content-Range", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			if n == 0 {
				b.serve(w, r, true, 5000)
				return
			}
			w.Header().Set("Content-Range", "bytes 0-99/65536")
			w.WriteHeader(http.StatusPartialContent)
		}, "Content-Range", nil},
		{"unexpected status", func(n int, w http.ResponseWriter, r *http.Request, b *blobServer) {
			w.WriteHeader(http.StatusTeapot)
		}, "418", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &blobServer{data: data, answer: tt.answer}
			srv := httptest.NewServer(b)
			defer srv.Close()
			c := newScripted(t, &scripted{}, func(c *Config) {
				c.APIURL, c.LoginURL, c.MaxURLRefreshes = srv.URL, srv.URL, 2
			})
			released := 0
			d := &download{
				ctx: context.Background(), c: c, downloadID: "d1", url: srv.URL + "/blob", maxResumes: 2,
				ref:     fileRef{edge: "edge-1", job: "job-1", file: "file-1", path: "logs/a.log", size: int64(len(data))},
				release: func() { released++ },
			}
			err := d.connect()
			var got []byte
			if err == nil {
				got, err = io.ReadAll(d)
			}
			d.Close()
			d.Close()
			if released != 1 {
				t.Fatalf("slot released %d times", released)
			}
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), tt.wantErr) ||
					!strings.Contains(err.Error(), "edge edge-1, job job-1, file file-1 logs/a.log") {
					t.Fatalf("error %v, want ErrDownload naming the file and saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "fresh=1") {
					t.Fatalf("error holds the download URL: %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want the %d bytes", len(got), err, len(data))
			}
			if st := c.Stats(); !tt.check(st) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
