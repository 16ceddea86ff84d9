package sim

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleBlob serves a pre-signed download URL, as an object store would:
// no bearer token, a signature and an expiry in the query, Range support.
// It injects 503s and truncated bodies.
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request) {
	s.st.downloads.Add(1)
	id := r.PathValue("id")
	exp, err := strconv.ParseInt(r.URL.Query().Get("exp"), 10, 64)
	if err != nil || r.URL.Query().Get("sig") != s.sign(id, exp) {
		writeXMLError(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if time.Now().UnixNano() > exp {
		s.st.expiredURLs.Add(1)
		writeXMLError(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	s.mu.Lock()
	d := s.downloads[id]
	s.mu.Unlock()
	if d == nil {
		writeXMLError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if s.float() < s.cfg.FailRate {
		s.st.injected503.Add(1)
		writeXMLError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	}
	size := d.file.Size
	start, end := int64(0), size-1
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		s.st.rangeRequests.Add(1)
		var ok bool
		if start, end, ok = parseRange(rg, size); !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			writeXMLError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
			return
		}
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	n := end - start + 1
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Accept-Ranges", "bytes")
	w.WriteHeader(status)
	if r.Method == http.MethodHead || n <= 0 {
		return
	}
	send := n
	truncate := s.float() < s.cfg.TruncateRate
	if truncate {
		send = s.int64n(n)
	}
	body := io.NewSectionReader(contentAt{key: contentKey(s.cfg.Seed, d.edge, d.file.Path)}, start, send)
	written, _ := io.Copy(w, body)
	s.st.bytesServed.Add(written)
	if truncate {
		s.st.truncated.Add(1)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Fewer bytes than Content-Length, then the connection closes.
		panic(http.ErrAbortHandler)
	}
}

// parseRange reads "bytes=START-" or "bytes=START-END" against size.
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok || a == "" {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

func writeXMLError(w http.ResponseWriter, status int, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
