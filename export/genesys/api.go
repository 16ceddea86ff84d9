package genesys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JSON shapes of the Genesys Cloud public API that logkeeper reads,
// with one decoder each. Decoders check what the sources rely on and
// return errors wrapping ErrMalformed; they never panic on any input
// (see FuzzDecoders).

// The models follow the published Genesys Cloud SDK models (see
// docs/genesys.md): EdgeEntityListing, Edge, EdgeLogsJobResponse,
// EdgeLogsJob, EdgeLogsJobFile, UrlResponse, AuditQueryRequest,
// AuditQueryExecutionStatusResponse, AuditQueryExecutionResultsResponse
// and ErrorBody. Enumerations grow over time (every SDK maps an unknown
// value to "OutdatedSdkVersion"), so an unknown value is never a decode
// failure: the caller handles it conservatively and logs it.

// edgeListing is a page of GET /api/v2/telephony/providers/edges.
type edgeListing struct {
	Entities   []edgeEntity `json:"entities"`
	PageSize   int          `json:"pageSize"`
	PageNumber int          `json:"pageNumber"`
	Total      int64        `json:"total"`
	PageCount  int          `json:"pageCount"`
}

// Edge.onlineStatus and Edge.state as the SDK models list them.
const (
	edgeOnline   = "ONLINE"
	edgeOffline  = "OFFLINE"
	edgeActive   = "active"
	edgeInactive = "inactive"
	edgeDeleted  = "deleted"
)

// edgeEntity is the part of the Edge model the sources read.
type edgeEntity struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	State              string `json:"state"`
	OnlineStatus       string `json:"onlineStatus"`
	StatusCode         string `json:"statusCode"`
	EdgeDeploymentType string `json:"edgeDeploymentType"`
}

// notCollected returns why an edge is not asked for its logs ("" when it
// is): an edge the listing reports OFFLINE, or not active (inactive or
// deleted), would never answer a log job. Unknown values are not a reason:
// the edge is tried, bounded by the job timeout.
func (e edgeEntity) notCollected() string {
	switch {
	case strings.EqualFold(e.OnlineStatus, edgeOffline):
		return "onlineStatus OFFLINE"
	case strings.EqualFold(e.State, edgeInactive), strings.EqualFold(e.State, edgeDeleted):
		return "state " + strings.ToLower(e.State)
	}
	return ""
}

// knownEdgeEnums reports whether onlineStatus and state hold values the
// SDK models list (or are absent).
func (e edgeEntity) knownEnums() bool {
	okOnline := e.OnlineStatus == "" || strings.EqualFold(e.OnlineStatus, edgeOnline) || strings.EqualFold(e.OnlineStatus, edgeOffline)
	okState := e.State == "" || strings.EqualFold(e.State, edgeActive) || strings.EqualFold(e.State, edgeInactive) || strings.EqualFold(e.State, edgeDeleted)
	return okOnline && okState
}

func decodeEdgeListing(data []byte) (edgeListing, error) {
	var l edgeListing
	if err := unmarshal(data, &l); err != nil {
		return l, err
	}
	for i, e := range l.Entities {
		if e.ID == "" {
			return l, fmt.Errorf("%w: entities[%d].id is missing", ErrMalformed, i)
		}
	}
	return l, nil
}

// logJobRequest is the body of POST .../edges/{edgeId}/logs/jobs
// (EdgeLogsJobRequest).
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
		return r, fmt.Errorf("%w: id is missing", ErrMalformed)
	}
	return r, nil
}

// logJob is GET .../logs/jobs/{jobId} (EdgeLogsJob). Files is nil while
// the edge has not listed its files yet, and non-nil (maybe empty) once it
// has. A file the decoder cannot use is in Bad, with the reason, and not in
// Files: one bad file never hides the others.
type logJob struct {
	ID    string
	State string
	Files []logFile
	Bad   []badFile
}

// badFile is a file of a log job whose fields could not be used.
type badFile struct {
	// ID and Path name the file as far as the answer does (either may be
	// empty); Index is its place in the job's files.
	ID, Path string
	Index    int
	Err      error
}

// EdgeLogsJobFile.uploadStatus as the SDK models list it.
const (
	uploadNotUploaded = "NOT_UPLOADED"
	uploadUploading   = "UPLOADING"
	uploadUploaded    = "UPLOADED"
	uploadError       = "ERROR_ON_UPLOAD"
)

// logFile is one file of a log job (EdgeLogsJobFile).
type logFile struct {
	ID           string
	Name         string
	EdgePath     string
	TimeModified string
	// Size is sizeBytes, a double in the models, checked to be a whole,
	// non-negative number of bytes.
	Size int64
	// SizeText is sizeBytes as the answer wrote it.
	SizeText string
	// UploadStatus is upper-cased (the SDKs compare it ignoring case).
	UploadStatus string
	DownloadID   string

	modified time.Time
}

// path is the file's path on the edge (its name when no path is given).
func (f logFile) path() string {
	if f.EdgePath != "" {
		return f.EdgePath
	}
	return f.Name
}

// knownStatus reports whether the upload status is one the models list.
func (f logFile) knownStatus() bool {
	switch f.UploadStatus {
	case "", uploadNotUploaded, uploadUploading, uploadUploaded, uploadError:
		return true
	}
	return false
}

// logJobWire is the job as sent; files are decoded one by one.
type logJobWire struct {
	ID    string            `json:"id"`
	State string            `json:"state"`
	Files []json.RawMessage `json:"files"`
}

type logFileWire struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	EdgePath     string          `json:"edgePath"`
	TimeCreated  string          `json:"timeCreated"`
	TimeModified string          `json:"timeModified"`
	SizeBytes    json.RawMessage `json:"sizeBytes"`
	UploadStatus string          `json:"uploadStatus"`
	DownloadID   string          `json:"downloadId"`
}

// maxExactSize is the largest size a double holds exactly (2^53).
const maxExactSize = 1 << 53

func decodeLogJob(data []byte) (logJob, error) {
	var w logJobWire
	if err := unmarshal(data, &w); err != nil {
		return logJob{}, err
	}
	j := logJob{ID: w.ID, State: w.State}
	if w.Files == nil {
		return j, nil
	}
	j.Files = make([]logFile, 0, len(w.Files))
	seen := make(map[string]bool, len(w.Files))
	for i, raw := range w.Files {
		f, err := decodeLogFile(raw)
		switch {
		case err == nil && seen[f.ID]:
			err = fmt.Errorf("files[%d].id %s is listed twice", i, oneLine(f.ID))
			f.ID = "" // the first one keeps the id
		case err != nil:
			err = fmt.Errorf("files[%d].%w", i, err)
		}
		if err != nil {
			j.Bad = append(j.Bad, badFile{ID: f.ID, Path: f.path(), Index: i, Err: fmt.Errorf("%w: %w", ErrMalformed, err)})
			continue
		}
		seen[f.ID] = true
		j.Files = append(j.Files, f)
	}
	return j, nil
}

// decodeLogFile decodes one EdgeLogsJobFile. Its errors start with the
// field name; the returned file holds the id and path when they could be
// read, so that a bad file can still be named.
func decodeLogFile(raw json.RawMessage) (logFile, error) {
	var w logFileWire
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// Keep what can be read, to name the file.
			var named struct {
				ID       any `json:"id"`
				EdgePath any `json:"edgePath"`
			}
			_ = json.Unmarshal(raw, &named)
			id, _ := named.ID.(string)
			p, _ := named.EdgePath.(string)
			return logFile{ID: id, EdgePath: p}, fmt.Errorf("%s: a JSON %s where the model has %s", te.Field, te.Value, te.Type)
		}
		return logFile{}, fmt.Errorf("(the file): %v", err)
	}
	f := logFile{ID: w.ID, Name: w.Name, EdgePath: w.EdgePath, TimeModified: w.TimeModified,
		UploadStatus: strings.ToUpper(strings.TrimSpace(w.UploadStatus)), DownloadID: w.DownloadID}
	switch {
	case f.ID == "":
		return f, errors.New("id is missing")
	case f.path() == "":
		return f, errors.New("edgePath and name are both missing")
	case len(w.SizeBytes) == 0 || string(w.SizeBytes) == "null":
		return f, errors.New("sizeBytes is missing")
	case w.SizeBytes[0] != '-' && (w.SizeBytes[0] < '0' || w.SizeBytes[0] > '9'):
		return f, fmt.Errorf("sizeBytes: %.40s is not a JSON number (the model has a double)", oneLine(string(w.SizeBytes)))
	}
	size, err := wholeBytes(json.Number(w.SizeBytes))
	if err != nil {
		return f, fmt.Errorf("sizeBytes: %w", err)
	}
	f.Size, f.SizeText = size, string(w.SizeBytes)
	if f.TimeModified != "" {
		t, err := parseTime(f.TimeModified)
		if err != nil {
			return f, fmt.Errorf("timeModified: %q is not an ISO-8601 time", oneLine(f.TimeModified))
		}
		f.modified = t
	}
	return f, nil
}

// wholeBytes reads a size the models declare a double: 1234 and 1234.0
// and 1.234e3 are 1234; a fraction, a negative number or one past 2^53
// (where doubles stop counting every byte) is an error.
func wholeBytes(n json.Number) (int64, error) {
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		if i < 0 || i > maxExactSize {
			return 0, fmt.Errorf("%s is not a size in bytes (0..2^53)", oneLine(n.String()))
		}
		return i, nil
	}
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", oneLine(n.String()))
	}
	if v < 0 || v > maxExactSize || v != math.Trunc(v) {
		return 0, fmt.Errorf("%s is not a whole number of bytes in 0..2^53", oneLine(n.String()))
	}
	return int64(v), nil
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

// auditQuery is the body of POST /api/v2/audits/query (AuditQueryRequest).
type auditQuery struct {
	Interval    string        `json:"interval"`
	ServiceName string        `json:"serviceName,omitempty"`
	Filters     []AuditFilter `json:"filters,omitempty"`
	Sort        []auditSort   `json:"sort,omitempty"`
}

// auditSort is AuditQuerySort: name Timestamp, sortOrder ascending or
// descending.
type auditSort struct {
	Name      string `json:"name"`
	SortOrder string `json:"sortOrder"`
}

// byTimestamp asks for the results oldest first.
var byTimestamp = []auditSort{{Name: "Timestamp", SortOrder: "ascending"}}

// Audit query states (AuditQueryExecutionStatusResponse.state). A state
// not listed here is taken as "not finished yet": polling goes on until
// the query timeout.
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

// known reports whether the state is one the models list.
func (s auditStatus) known() bool {
	switch s.State {
	case auditQueued, auditRunning, auditSucceeded, auditFailed, auditCancelled:
		return true
	}
	return false
}

func decodeAuditStatus(data []byte) (auditStatus, error) {
	var s auditStatus
	if err := unmarshal(data, &s); err != nil {
		return s, err
	}
	if s.ID == "" {
		return s, fmt.Errorf("%w: id is missing", ErrMalformed)
	}
	// The SDKs compare states ignoring case.
	for _, k := range []string{auditQueued, auditRunning, auditSucceeded, auditFailed, auditCancelled} {
		if strings.EqualFold(s.State, k) {
			s.State = k
		}
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
			return r, fmt.Errorf("%w: entities[%d] is not a JSON object", ErrMalformed, i)
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
	ContextID         string         `json:"contextId"`
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
