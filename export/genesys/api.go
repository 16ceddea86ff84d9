package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The JSON shapes of the Genesys Cloud public API that logkeeper reads,
// with one decoder each. Decoders check what the sources rely on and
// return errors wrapping ErrMalformed; they never panic on any input
// (see FuzzDecoders).

// edgeListing is a page of GET /api/v2/telephony/providers/edges.
type edgeListing struct {
	Entities   []edgeEntity `json:"entities"`
	PageSize   int          `json:"pageSize"`
	PageNumber int          `json:"pageNumber"`
	Total      int64        `json:"total"`
	PageCount  int          `json:"pageCount"`
}

type edgeEntity struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

func decodeEdgeListing(data []byte) (edgeListing, error) {
	var l edgeListing
	if err := unmarshal(data, &l); err != nil {
		return l, err
	}
	for i, e := range l.Entities {
		if e.ID == "" {
			return l, fmt.Errorf("%w: edge %d of the page has no id", ErrMalformed, i)
		}
	}
	return l, nil
}

// logJobRequest is the body of POST .../edges/{edgeId}/logs/jobs.
type logJobRequest struct {
	Path    string `json:"path,omitempty"`
	Query   string `json:"query,omitempty"`
	Recurse bool   `json:"recurse"`
}

// idResponse is an answer that carries the id of what was created.
type idResponse struct {
	ID    string `json:"id"`
	State string `json:"state,omitempty"`
}

func decodeID(data []byte) (idResponse, error) {
	var r idResponse
	if err := unmarshal(data, &r); err != nil {
		return r, err
	}
	if r.ID == "" {
		return r, fmt.Errorf("%w: no id", ErrMalformed)
	}
	return r, nil
}

// logJob is GET .../logs/jobs/{jobId}. Files is nil while the edge has not
// listed its files yet, and non-nil (maybe empty) once it has.
type logJob struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Files []logFile `json:"files"`
}

// logFile is one file of a log job.
type logFile struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	EdgePath     string `json:"edgePath"`
	TimeCreated  string `json:"timeCreated"`
	TimeModified string `json:"timeModified"`
	SizeBytes    int64  `json:"sizeBytes"`
	UploadStatus string `json:"uploadStatus"`
	DownloadID   string `json:"downloadId"`

	modified time.Time
}

// path is the file's path on the edge (its name when no path is given).
func (f logFile) path() string {
	if f.EdgePath != "" {
		return f.EdgePath
	}
	return f.Name
}

// uploadFailed reports whether the edge reports the upload as failed.
func (f logFile) uploadFailed() bool {
	s := strings.ToLower(f.UploadStatus)
	return strings.Contains(s, "fail") || strings.Contains(s, "error")
}

func decodeLogJob(data []byte) (logJob, error) {
	var j logJob
	if err := unmarshal(data, &j); err != nil {
		return j, err
	}
	seen := make(map[string]bool, len(j.Files))
	for i := range j.Files {
		f := &j.Files[i]
		switch {
		case f.ID == "":
			return j, fmt.Errorf("%w: file %d of the job has no id", ErrMalformed, i)
		case seen[f.ID]:
			return j, fmt.Errorf("%w: file id %s listed twice", ErrMalformed, f.ID)
		case f.path() == "":
			return j, fmt.Errorf("%w: file %s has neither edgePath nor name", ErrMalformed, f.ID)
		case f.SizeBytes < 0:
			return j, fmt.Errorf("%w: file %s has size %d", ErrMalformed, f.ID, f.SizeBytes)
		}
		seen[f.ID] = true
		if f.TimeModified != "" {
			t, err := parseTime(f.TimeModified)
			if err != nil {
				return j, fmt.Errorf("%w: file %s: timeModified: %v", ErrMalformed, f.ID, err)
			}
			f.modified = t
		}
	}
	return j, nil
}

// uploadRequest is the body of POST .../logs/jobs/{jobId}/upload.
type uploadRequest struct {
	FileIDs []string `json:"fileIds"`
}

// downloadURL is GET /api/v2/downloads/{downloadId}?issueRedirect=false.
type downloadURL struct {
	URL string `json:"url"`
}

func decodeDownloadURL(data []byte) (downloadURL, error) {
	var d downloadURL
	if err := unmarshal(data, &d); err != nil {
		return d, err
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return d, fmt.Errorf("%w: url is not an absolute http(s) URL", ErrMalformed)
	}
	return d, nil
}

// organization is GET /api/v2/organizations/me.
type organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func decodeOrganization(data []byte) (organization, error) {
	var o organization
	if err := unmarshal(data, &o); err != nil {
		return o, err
	}
	if o.ID == "" {
		return o, fmt.Errorf("%w: organization has no id", ErrMalformed)
	}
	return o, nil
}

// AuditFilter is one filter of an audit query.
type AuditFilter struct {
	Property string `json:"property"`
	Value    string `json:"value"`
}

// auditQuery is the body of POST /api/v2/audits/query.
type auditQuery struct {
	Interval    string        `json:"interval"`
	ServiceName string        `json:"serviceName,omitempty"`
	Filters     []AuditFilter `json:"filters,omitempty"`
}

// Audit query states.
const (
	auditQueued    = "Queued"
	auditRunning   = "Running"
	auditSucceeded = "Succeeded"
	auditFailed    = "Failed"
	auditCancelled = "Cancelled"
)

// auditStatus is POST /api/v2/audits/query and GET .../query/{id}.
type auditStatus struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func decodeAuditStatus(data []byte) (auditStatus, error) {
	var s auditStatus
	if err := unmarshal(data, &s); err != nil {
		return s, err
	}
	if s.ID == "" {
		return s, fmt.Errorf("%w: audit query has no id", ErrMalformed)
	}
	switch s.State {
	case auditQueued, auditRunning, auditSucceeded, auditFailed, auditCancelled:
	default:
		return s, fmt.Errorf("%w: unknown audit query state %q", ErrMalformed, oneLine(s.State))
	}
	return s, nil
}

// auditResults is a page of GET /api/v2/audits/query/{id}/results.
type auditResults struct {
	ID       string            `json:"id"`
	PageSize int               `json:"pageSize"`
	Cursor   string            `json:"cursor"`
	Entities []json.RawMessage `json:"entities"`
}

func decodeAuditResults(data []byte) (auditResults, error) {
	var r auditResults
	if err := unmarshal(data, &r); err != nil {
		return r, err
	}
	for i, e := range r.Entities {
		if len(e) == 0 || e[0] != '{' {
			return r, fmt.Errorf("%w: audit entity %d is not a JSON object", ErrMalformed, i)
		}
	}
	return r, nil
}

// auditLine returns an entity as one line of JSON Lines: compacted, so
// that the same entity always gives the same bytes, and ending in "\n".
func auditLine(dst []byte, entity json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, entity); err != nil {
		return dst, fmt.Errorf("%w: audit entity: %v", ErrMalformed, err)
	}
	dst = append(dst, b.Bytes()...)
	return append(dst, '\n'), nil
}

// errorBody is the body of a Genesys error answer.
type errorBody struct {
	Message           string         `json:"message"`
	MessageWithParams string         `json:"messageWithParams"`
	MessageParams     map[string]any `json:"messageParams"`
	Code              string         `json:"code"`
	Status            int            `json:"status"`
	Error             string         `json:"error"` // OAuth-style bodies
	Description       string         `json:"error_description"`
}

func (e errorBody) text() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Description != "":
		return e.Description
	default:
		return e.Error
	}
}

func decodeErrorBody(data []byte) (errorBody, error) {
	var e errorBody
	if len(bytes.TrimSpace(data)) == 0 {
		return e, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if err := unmarshal(data, &e); err != nil {
		return e, err
	}
	if e.Code == "" && e.Error != "" {
		e.Code = e.Error
	}
	return e, nil
}

// throttleMarkers mark a 403 as throttling or burst blocking (to retry
// slower) rather than a refusal.
var throttleMarkers = []string{"rate_limit_exceeded", "rate.limit.exceeded", "waf_block", "too.many.requests"}

// isThrottle reports whether a 403 body marks throttling or burst
// blocking.
func isThrottle(body []byte) bool {
	lower := bytes.ToLower(body)
	for _, m := range throttleMarkers {
		if bytes.Contains(lower, []byte(m)) {
			return true
		}
	}
	return false
}

// isPermission reports whether a 403 body is about missing permissions.
func isPermission(body []byte) bool {
	e, err := decodeErrorBody(body)
	if err != nil {
		return false
	}
	return strings.Contains(strings.ToLower(e.Code+" "+e.Message+" "+e.MessageWithParams), "permission")
}

// permissionPattern matches a Genesys permission string such as
// telephony:plugin:all or audits:audit:view.
var permissionPattern = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9]*:[a-zA-Z*][a-zA-Z0-9*]*:[a-zA-Z*][a-zA-Z0-9*]*\b`)

// missingPermissions returns the permission strings a 403 body names.
func missingPermissions(body []byte) []string {
	e, err := decodeErrorBody(body)
	if err != nil {
		return nil
	}
	texts := []string{e.Message, e.MessageWithParams}
	for _, v := range e.MessageParams {
		texts = append(texts, fmt.Sprint(v))
	}
	var perms []string
	for _, t := range texts {
		perms = append(perms, permissionPattern.FindAllString(t, 10)...)
	}
	slices.Sort(perms)
	return slices.Compact(perms)
}

// unmarshal decodes one JSON value, wrapping errors in ErrMalformed.
func unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// parseTime reads an ISO-8601 time as Genesys writes it.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
