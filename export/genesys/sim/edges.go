package sim

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// Edge is a simulated edge and its log files.
type Edge struct {
	ID   string
	Name string
	// Files on the edge. Their bytes are Content(seed, edge id, path).
	Files []File
	// Stuck makes the edge's log jobs never list their files.
	Stuck bool
	// Offline makes the edge listing report onlineStatus OFFLINE, and the
	// edge's log jobs never list their files (an offline edge cannot).
	Offline bool
	// State is the edge's state in the listing (default active).
	State string
	// CloudMedia marks a cloud media device: the listing shows it only
	// when showCloudMedia is true or absent (the API's default).
	CloudMedia bool
	// FailUploads makes every upload from the edge end as ERROR_ON_UPLOAD;
	// StuckUploads keeps every upload UPLOADING.
	FailUploads  bool
	StuckUploads bool
}

// File is a log file on an edge.
type File struct {
	// Path on the edge, slash-separated, such as logs/2026-11-25/sip.log.
	Path     string
	Size     int64
	Modified time.Time
}

// GenerateEdges returns n edges with perEdge files each, sizes between
// minSize and maxSize, all fixed by seed.
func GenerateEdges(seed uint64, n, perEdge int, minSize, maxSize int64, modified time.Time) []Edge {
	r := mrand.New(mrand.NewPCG(seed, 0xed6e))
	kinds := []string{"sip", "media", "edge", "tapi", "ems"}
	edges := make([]Edge, n)
	for i := range edges {
		e := &edges[i]
		e.ID = uuidOf(r.Uint64(), r.Uint64())
		e.Name = fmt.Sprintf("edge-%02d", i+1)
		for j := range perEdge {
			size := minSize
			if maxSize > minSize {
				size += r.Int64N(maxSize - minSize + 1)
			}
			day := modified.Add(-time.Duration(j%3) * 24 * time.Hour)
			e.Files = append(e.Files, File{
				Path:     fmt.Sprintf("logs/%s/%s-%03d.log", day.Format("2006-01-02"), kinds[j%len(kinds)], j),
				Size:     size,
				Modified: modified.Add(-time.Duration(j) * time.Minute).UTC().Truncate(time.Millisecond),
			})
		}
	}
	return edges
}

type job struct {
	id, edge string
	created  time.Time
	files    []*jobFile
	byID     map[string]*jobFile
}

type jobFile struct {
	id         string
	file       File // as the edge had it when the job was created
	requested  time.Time
	downloadID string
	// views counts the job reads that showed the file since its upload
	// was requested.
	views int
}

type download struct {
	edge  string
	file  File
	ready bool // the file is UPLOADED
}

// SetEdge changes an edge while the simulator runs: fn gets the edge
// (nil when there is none with that id) under the simulator's lock. Log
// jobs created before keep the files they listed.
func (s *Server) SetEdge(id string, fn func(*Edge)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.edges[id])
}

// SetStaleURLs makes the next n download URLs expired when issued.
func (s *Server) SetStaleURLs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.StaleURLs = s.urls + n
}

// handleEdges is GET /api/v2/telephony/providers/edges, paged.
func (s *Server) handleEdges(w http.ResponseWriter, r *http.Request) {
	size, page := intParam(r, "pageSize", 25), intParam(r, "pageNumber", 1)
	if size < 1 || size > 100 || page < 1 {
		writeError(w, http.StatusBadRequest, "bad.request", "invalid paging")
		return
	}
	showCloud := r.URL.Query().Get("showCloudMedia") != "false"
	s.mu.Lock()
	var all []map[string]any
	for _, e := range s.cfg.Edges {
		if e.CloudMedia && !showCloud {
			continue
		}
		online, state, kind := "ONLINE", "active", "HARDWARE"
		if e.Offline {
			online = "OFFLINE"
		}
		if e.State != "" {
			state = e.State
		}
		if e.CloudMedia {
			kind = "CDM"
		}
		all = append(all, map[string]any{"id": e.ID, "name": e.Name, "state": state, "onlineStatus": online,
			"statusCode": "ACTIVE", "edgeDeploymentType": kind, "selfUri": "/api/v2/telephony/providers/edges/" + e.ID})
	}
	s.mu.Unlock()
	total := len(all)
	from, to := min((page-1)*size, total), min(page*size, total)
	ents := append([]map[string]any{}, all[from:to]...)
	writeJSON(w, http.StatusOK, map[string]any{
		"entities": ents, "pageSize": size, "pageNumber": page, "total": total, "pageCount": (total + size - 1) / size,
	})
}

// handleCreateJob is POST .../edges/{edge}/logs/jobs {path, query, recurse}.
func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	e := s.edges[r.PathValue("edge")]
	if e == nil {
		writeError(w, http.StatusNotFound, "not.found", "Edge not found")
		return
	}
	var req struct {
		Path    string `json:"path"`
		Query   string `json:"query"`
		Recurse bool   `json:"recurse"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad.request", "invalid body")
		return
	}
	j := &job{id: s.newID(), edge: e.ID, created: time.Now(), byID: map[string]*jobFile{}}
	s.mu.Lock()
	for _, f := range e.Files {
		if !matches(f.Path, req.Path, req.Query, req.Recurse) {
			continue
		}
		jf := &jobFile{id: s.newID(), file: f}
		j.files = append(j.files, jf)
		j.byID[jf.id] = jf
	}
	s.jobs[j.id] = j
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.id, "name": "logs " + e.Name, "selfUri": r.URL.Path + "/" + j.id})
}

// matches reports whether a file at p is selected by a log job's folder,
// name patterns (| separated, * and ?) and recursion.
func matches(p, dir, query string, recurse bool) bool {
	dir = strings.Trim(dir, "/")
	rel := strings.TrimPrefix(p, "/")
	if dir != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(rel, dir+"/"); !ok {
			return false
		}
	}
	if !recurse && strings.Contains(rel, "/") {
		return false
	}
	if query == "" {
		return true
	}
	for _, q := range strings.Split(query, "|") {
		if ok, _ := path.Match(strings.TrimSpace(q), path.Base(p)); ok {
			return true
		}
	}
	return false
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) (*job, *Edge, bool) {
	s.mu.Lock()
	j := s.jobs[r.PathValue("job")]
	s.mu.Unlock()
	if j == nil || j.edge != r.PathValue("edge") {
		writeError(w, http.StatusNotFound, "not.found", "Log job not found")
		return nil, nil, false
	}
	return j, s.edges[j.edge], true
}

// handleGetJob is GET .../logs/jobs/{job}: 202 without files until the
// edge has listed them.
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	j, e, ok := s.job(w, r)
	if !ok {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if e.Stuck || e.Offline || now.Sub(j.created) < s.cfg.JobDelay {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"id": j.id, "name": "logs " + e.Name, "state": "active"})
		return
	}
	files := []map[string]any{}
	for _, jf := range j.files {
		m := map[string]any{
			"id": jf.id, "name": path.Base(jf.file.Path), "edgePath": jf.file.Path,
			"timeCreated":  jf.file.Modified.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z"),
			"timeModified": jf.file.Modified.Format("2006-01-02T15:04:05.000Z"),
			// A double, as the models declare it.
			"sizeBytes":    json.Number(strconv.FormatInt(jf.file.Size, 10) + ".0"),
			"uploadStatus": s.uploadStatus(e, jf, now),
			"selfUri":      r.URL.Path,
		}
		if jf.downloadID != "" {
			m["downloadId"] = jf.downloadID
		}
		files = append(files, m)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": j.id, "name": "logs " + e.Name, "state": "active", "files": files})
}

// uploadStatus is the file's EdgeLogsJobFile.uploadStatus now (under
// s.mu): NOT_UPLOADED until requested, UPLOADING for UploadDelay (or
// forever with StuckUploads), then UPLOADED or ERROR_ON_UPLOAD. With
// UnknownEnums the first half of the upload shows a value the models do
// not list.
func (s *Server) uploadStatus(e *Edge, jf *jobFile, now time.Time) string {
	if !jf.requested.IsZero() {
		jf.views++
	}
	switch {
	case jf.requested.IsZero():
		return "NOT_UPLOADED"
	case s.cfg.UnknownEnums && (jf.views == 1 || now.Sub(jf.requested) < s.cfg.UploadDelay/2):
		return "QUEUED_AT_EDGE"
	case e.StuckUploads || now.Sub(jf.requested) < s.cfg.UploadDelay:
		return "UPLOADING"
	case e.FailUploads:
		return "ERROR_ON_UPLOAD"
	}
	if d := s.downloads[jf.downloadID]; d != nil {
		d.ready = true
	}
	return "UPLOADED"
}

// handleUpload is POST .../logs/jobs/{job}/upload {fileIds}.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	j, _, ok := s.job(w, r)
	if !ok {
		return
	}
	var req struct {
		FileIDs []string `json:"fileIds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.FileIDs) == 0 {
		writeError(w, http.StatusBadRequest, "bad.request", "fileIds required")
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range req.FileIDs {
		if j.byID[id] == nil {
			writeError(w, http.StatusBadRequest, "bad.request", "unknown file id "+id)
			return
		}
	}
	s.uploadRequests++
	for _, id := range req.FileIDs {
		// The download id is issued with the request, while the file is
		// UPLOADING; the download is not found until it is UPLOADED.
		if jf := j.byID[id]; jf.requested.IsZero() || s.edges[j.edge].FailUploads {
			jf.requested, jf.views = now, 0
			if jf.downloadID == "" {
				jf.downloadID = s.newID()
				s.downloads[jf.downloadID] = &download{edge: j.edge, file: jf.file}
			}
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// handleResolve is GET /api/v2/downloads/{id}: the pre-signed URL, as JSON
// with issueRedirect=false, else as a redirect.
func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	d := s.downloads[id]
	if d != nil && !d.ready {
		d = nil
	}
	stale := s.urls < s.cfg.StaleURLs
	s.urls++
	s.mu.Unlock()
	if d == nil {
		writeError(w, http.StatusNotFound, "not.found", "Download not found")
		return
	}
	exp := time.Now().Add(s.cfg.URLTTL)
	if stale {
		exp = time.Now().Add(-time.Minute)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := fmt.Sprintf("%s://%s/sim/blobs/%s?exp=%d&sig=%s", scheme, r.Host, id, exp.UnixNano(), s.sign(id, exp.UnixNano()))
	if r.URL.Query().Get("issueRedirect") == "false" {
		writeJSON(w, http.StatusOK, map[string]string{"url": u})
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func intParam(r *http.Request, name string, def int) int {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
