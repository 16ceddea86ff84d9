package genesys

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. The errors the client returns wrap them, so callers use
// errors.Is.
var (
	// ErrBadCredentials: the login service refused the client id and
	// secret.
	ErrBadCredentials = errors.New("client credentials refused")
	// ErrUnauthorized: the API refused the token twice in a row (after one
	// refresh).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrPermission: the OAuth client lacks a permission (its role).
	ErrPermission = errors.New("missing permission")
	// ErrForbidden: a 403 that is neither throttling nor a missing
	// permission.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: a 404, such as an edge id Genesys does not know.
	ErrNotFound = errors.New("not found")
	// ErrThrottled: still throttled after MaxThrottleRetries retries.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable: still failing (5xx or connection errors) after
	// MaxRetries retries.
	ErrUnavailable = errors.New("service unavailable")
	// ErrRejected: any other 4xx answer.
	ErrRejected = errors.New("request rejected")
	// ErrMalformed: an answer that is not the JSON the API documents.
	ErrMalformed = errors.New("malformed answer")
	// ErrTimeout: a log job, an upload or an audit query did not finish
	// within its bounded wait.
	ErrTimeout = errors.New("wait timed out")
	// ErrFailed: Genesys reports a job, upload or query as failed.
	ErrFailed = errors.New("failed at Genesys")
	// ErrDownload: a download could not be completed with the expected
	// bytes.
	ErrDownload = errors.New("download incomplete")
)

// APIError is an answer the client does not retry (or stopped retrying).
// It never holds the token or the client secret.
type APIError struct {
	// Op says what the client was doing, such as "create log job".
	Op     string
	Method string
	// Path is the API path, without the host.
	Path   string
	Status int
	// Code and Message come from the Genesys error body, when it has one.
	Code    string
	Message string
	// Permissions are the permissions a 403 names as missing, or the ones
	// the endpoint is documented to need.
	Permissions []string
	// CorrelationID is the answer's ININ-Correlation-Id and ContextID the
	// error body's contextId: Genesys support asks for both.
	CorrelationID string
	ContextID     string
	kind          error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "genesys %s: %s %s: ", e.Op, e.Method, e.Path)
	if errors.Is(e.kind, ErrPermission) {
		fmt.Fprintf(&b, "%d %s: the OAuth client lacks permission %s (grant it through the client's role)",
			e.Status, http.StatusText(e.Status), strings.Join(e.Permissions, " or "))
	} else {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (code %s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.ContextID != "" {
		fmt.Fprintf(&b, " [context id %s]", e.ContextID)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " [correlation id %s]", e.CorrelationID)
	}
	return b.String()
}

// Unwrap returns the sentinel that classifies the error.
func (e *APIError) Unwrap() error { return e.kind }

// TimeoutError is a bounded wait that ran out. It wraps ErrTimeout.
type TimeoutError struct {
	// What was awaited, such as "log job file listing".
	What                   string
	Edge, Job, File, Query string
	Waited                 time.Duration
}

func (e *TimeoutError) Error() string {
	hint := ""
	if e.Edge != "" {
		hint = " (is the edge online?)"
	}
	return fmt.Sprintf("genesys: %s%s not ready after %s%s", e.What, where(e.Edge, e.Job, e.File, e.Query), e.Waited.Round(time.Millisecond), hint)
}

// Unwrap returns ErrTimeout.
func (e *TimeoutError) Unwrap() error { return ErrTimeout }

// where names the edge, job, file and query an error is about.
func where(edge, job, file, query string) string {
	var parts []string
	for _, p := range []struct{ k, v string }{{"edge", edge}, {"job", job}, {"file", file}, {"query", query}} {
		if p.v != "" {
			parts = append(parts, p.k+" "+p.v)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// oneLine shortens a server-supplied text for an error message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
