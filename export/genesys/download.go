package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// download streams one log file from its pre-signed URL. It holds at most
// one read buffer of the caller's: bytes go straight from the connection
// to the archive.
//
// It keeps the Open context, as an http.Response body does: the resumes
// and URL refreshes a Read may need run within it.
type download struct {
	ctx        context.Context
	c          *Client
	ref        fileRef
	downloadID string
	url        string
	maxResumes int
	release    func()

	body      io.ReadCloser
	n         int64 // bytes delivered so far
	resumes   int
	refreshes int
	failures  int
	err       error // sticky
	closed    bool
}

// Read reads the file's bytes. A body that ends early or breaks is
// resumed with a Range request for the rest; after MaxResumes resumes, or
// any answer that cannot be the listed file, Read fails with an error
// wrapping ErrDownload that names the edge, job and file.
func (d *download) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.closed {
		return 0, fmt.Errorf("genesys download%s: read after close", d.ref.where())
	}
	for {
		remain := d.ref.size - d.n
		if remain == 0 {
			d.closeBody()
			return 0, io.EOF
		}
		if d.body == nil {
			if err := d.connect(); err != nil {
				d.err = err
				return 0, err
			}
		}
		if int64(len(p)) > remain {
			p = p[:remain]
		}
		k, err := d.body.Read(p)
		d.n += int64(k)
		d.c.st.bytes.Add(int64(k))
		if err == nil || err == io.EOF && d.n == d.ref.size {
			return k, nil
		}
		// The body ended short of the listed size, or the connection broke.
		d.closeBody()
		if cerr := d.ctx.Err(); cerr != nil {
			d.err = fmt.Errorf("genesys download%s: %w", d.ref.where(), cerr)
			return k, d.err
		}
		d.resumes++
		d.c.st.resumes.Add(1)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if d.resumes > d.maxResumes {
			d.err = d.fail(fmt.Errorf("body broke off %d times, last at byte %d of %d: %w", d.resumes, d.n, d.ref.size, err))
			return k, d.err
		}
		d.c.log.Debug("genesys download resumed", "edge_id", d.ref.edge, "file_id", d.ref.file, "at", d.n, "size", d.ref.size, "err", err)
		if k > 0 {
			return k, nil
		}
	}
}

// Close ends the download and frees its slot.
func (d *download) Close() error {
	d.closeBody()
	if !d.closed {
		d.closed = true
		d.release()
	}
	return nil
}

func (d *download) closeBody() {
	if d.body != nil {
		d.body.Close()
		d.body = nil
	}
}

// connect opens the body from byte d.n on: the whole file, or with a Range
// request the rest of it.
func (d *download) connect() error {
	for {
		if err := d.ctx.Err(); err != nil {
			return fmt.Errorf("genesys download%s: %w", d.ref.where(), err)
		}
		req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.url, nil)
		if err != nil {
			// The error would quote the URL, which holds a signature.
			return d.fail(errors.New("the download URL cannot be requested"))
		}
		if d.n > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(d.n, 10)+"-")
		}
		d.c.st.downloads.Add(1)
		resp, err := d.c.cfg.DownloadClient.Do(req)
		if err != nil {
			if d.ctx.Err() != nil {
				return fmt.Errorf("genesys download%s: %w", d.ref.where(), d.ctx.Err())
			}
			d.c.st.connErrors.Add(1)
			// The URL holds a signature: never put it in an error.
			if err := d.retry("connection", stripURL(err), 0); err != nil {
				return err
			}
			continue
		}
		switch st := resp.StatusCode; {
		case st == http.StatusOK:
			if resp.ContentLength >= 0 && resp.ContentLength != d.ref.size {
				resp.Body.Close()
				return d.fail(fmt.Errorf("the server sends %d bytes, the log job lists %d (did the file change on the edge?)", resp.ContentLength, d.ref.size))
			}
			if d.n > 0 {
				// The server ignored the Range: skip what was delivered.
				if _, err := io.CopyN(io.Discard, resp.Body, d.n); err != nil {
					resp.Body.Close()
					d.c.st.connErrors.Add(1)
					if err := d.retry("connection", err, 0); err != nil {
						return err
					}
					continue
				}
			}
			d.body = resp.Body
			return nil
		case st == http.StatusPartialContent:
			cr := resp.Header.Get("Content-Range")
			start, total, ok := parseContentRange(cr)
			if !ok || start != d.n || total >= 0 && total != d.ref.size {
				resp.Body.Close()
				return d.fail(fmt.Errorf("asked for bytes %d- of %d, got Content-Range %q", d.n, d.ref.size, oneLine(cr)))
			}
			d.body = resp.Body
			return nil
		case st == http.StatusForbidden || st == http.StatusNotFound || st == http.StatusGone || st == http.StatusBadRequest && expiredBody(resp):
			// A pre-signed URL past its expiry: resolve the download id again.
			resp.Body.Close()
			if err := d.refresh(st); err != nil {
				return err
			}
		case st == http.StatusTooManyRequests || st >= 500:
			wait := min(retryAfter(resp.Header, time.Now()), d.c.cfg.MaxRetryAfter)
			resp.Body.Close()
			d.c.st.serverErrors.Add(1)
			if err := d.retry("status", fmt.Errorf("%d %s", st, http.StatusText(st)), wait); err != nil {
				return err
			}
		default:
			resp.Body.Close()
			return d.fail(fmt.Errorf("download answered %d %s", st, http.StatusText(st)))
		}
	}
}

// retry waits before the next attempt, or fails after MaxRetries.
func (d *download) retry(reason string, err error, atLeast time.Duration) error {
	d.failures++
	if d.failures > d.c.cfg.MaxRetries {
		return d.fail(fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, d.failures, err))
	}
	wait := max(atLeast, d.c.backoff(d.failures))
	d.c.log.Debug("genesys download retried", "edge_id", d.ref.edge, "file_id", d.ref.file, "reason", reason, "err", err, "retry_in", wait)
	if err := sleep(d.ctx, wait); err != nil {
		return fmt.Errorf("genesys download%s: %w", d.ref.where(), err)
	}
	return nil
}

// refresh resolves the download id to a new URL after the old one was
// refused.
func (d *download) refresh(status int) error {
	d.refreshes++
	if d.refreshes > d.c.cfg.MaxURLRefreshes {
		return d.fail(fmt.Errorf("the download URL was refused %d times (last %d %s): expired faster than it could be used?",
			d.refreshes, status, http.StatusText(status)))
	}
	d.c.st.urlRefreshes.Add(1)
	d.c.log.Debug("genesys download URL refused, resolving again", "edge_id", d.ref.edge, "file_id", d.ref.file, "status", status)
	u, err := d.c.resolveDownload(d.ctx, d.downloadID)
	if err != nil {
		return fmt.Errorf("genesys download%s: %w", d.ref.where(), err)
	}
	d.url = u
	return nil
}

func (d *download) fail(err error) error {
	return fmt.Errorf("genesys download%s: %w: %w", d.ref.where(), ErrDownload, err)
}

// expiredBody reports whether a 400 answer says the URL expired (some
// stores answer 400 rather than 403). It reads a little of the body.
func expiredBody(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return bytes.Contains(bytes.ToLower(b), []byte("expired"))
}

// parseContentRange reads "bytes START-END/TOTAL"; total is -1 for "*".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err := strconv.ParseInt(tot, 10, 64)
	if err != nil || total <= end {
		return 0, 0, false
	}
	return start, total, true
}

// stripURL drops the URL from a transport error: a pre-signed URL carries
// a signature that does not belong in logs or manifests.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
