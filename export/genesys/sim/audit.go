package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AuditRecord is one simulated audit record.
type AuditRecord struct {
	ID          string
	EventDate   time.Time
	ServiceName string
	Action      string
	EntityType  string
	EntityID    string
	UserID      string
	// IndexedAt, when set, is when the record becomes visible to audit
	// queries: a query created before it does not return the record, as
	// a record indexed late is missed by a query of its interval.
	IndexedAt time.Time
}

// JSON renders the record as the audit API returns it.
func (a AuditRecord) JSON() json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"id":            a.ID,
		"userHomeOrgId": "5f3e9c1a-0000-4000-8000-00000000c0de",
		"user":          map[string]string{"id": a.UserID, "name": "user " + a.UserID[:8]},
		"client":        map[string]string{"id": "sim-client", "type": "ClientCredentials"},
		"remoteIp":      []string{"192.0.2.10"},
		"serviceName":   a.ServiceName,
		"level":         "USER",
		"eventDate":     a.EventDate.UTC().Format("2006-01-02T15:04:05.000Z"),
		"message":       map[string]string{"localizableMessageCode": a.Action, "message": a.Action + " " + a.EntityType},
		"action":        a.Action,
		"entity":        map[string]string{"id": a.EntityID, "name": a.EntityType + " " + a.EntityID[:8]},
		"entityType":    a.EntityType,
		"status":        "SUCCESS",
		"propertyChanges": []map[string]any{
			{"property": "name", "oldValues": []string{"old"}, "newValues": []string{"new"}},
		},
	})
	return b
}

// GenerateAuditRecords returns n records from start on, one every step,
// across a few services, actions and entity types, fixed by seed.
func GenerateAuditRecords(seed uint64, n int, start time.Time, step time.Duration) []AuditRecord {
	r := mrand.New(mrand.NewPCG(seed, 0xa0d1))
	services := []string{"Architect", "Directory", "Telephony", "Routing"}
	actions := []string{"Create", "Update", "Delete", "Publish"}
	types := []string{"Flow", "User", "Edge", "Queue"}
	recs := make([]AuditRecord, n)
	for i := range recs {
		recs[i] = AuditRecord{
			ID:          uuidOf(r.Uint64(), r.Uint64()),
			EventDate:   start.Add(time.Duration(i) * step).UTC().Truncate(time.Millisecond),
			ServiceName: services[r.IntN(len(services))],
			Action:      actions[r.IntN(len(actions))],
			EntityType:  types[r.IntN(len(types))],
			EntityID:    uuidOf(r.Uint64(), r.Uint64()),
			UserID:      uuidOf(r.Uint64(), r.Uint64()),
		}
	}
	return recs
}

type auditRun struct {
	id      string
	created time.Time
	records []json.RawMessage
	reads   int // status reads so far
}

// handleCreateAudit is POST /api/v2/audits/query {interval, serviceName,
// filters}.
func (s *Server) handleCreateAudit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Interval    string `json:"interval"`
		ServiceName string `json:"serviceName"`
		Filters     []struct {
			Property string `json:"property"`
			Value    string `json:"value"`
		} `json:"filters"`
		Sort []struct {
			Name      string `json:"name"`
			SortOrder string `json:"sortOrder"`
		} `json:"sort"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad.request", "invalid body")
		return
	}
	a, b, ok := strings.Cut(req.Interval, "/")
	start, err1 := time.Parse(time.RFC3339Nano, a)
	end, err2 := time.Parse(time.RFC3339Nano, b)
	if !ok || err1 != nil || err2 != nil || !end.After(start) {
		writeError(w, http.StatusBadRequest, "bad.request", "interval must be START/END in ISO-8601")
		return
	}
	run := &auditRun{id: s.newID(), created: time.Now()}
	s.mu.Lock()
	records := slices.Clone(s.cfg.AuditRecords)
	s.mu.Unlock()
	for _, rec := range records {
		if !rec.IndexedAt.IsZero() && run.created.Before(rec.IndexedAt) {
			continue
		}
		if rec.EventDate.Before(start) || !rec.EventDate.Before(end) ||
			req.ServiceName != "" && rec.ServiceName != req.ServiceName {
			continue
		}
		keep := true
		for _, f := range req.Filters {
			var v string
			switch f.Property {
			case "Action":
				v = rec.Action
			case "EntityType":
				v = rec.EntityType
			case "EntityId":
				v = rec.EntityID
			case "UserId":
				v = rec.UserID
			default:
				writeError(w, http.StatusBadRequest, "bad.request", "unknown filter property "+f.Property)
				return
			}
			keep = keep && v == f.Value
		}
		if keep {
			run.records = append(run.records, rec.JSON())
		}
	}
	slices.SortStableFunc(run.records, func(x, y json.RawMessage) int { return strings.Compare(eventDate(x), eventDate(y)) })
	for _, o := range req.Sort {
		if o.Name != "Timestamp" || o.SortOrder != "ascending" && o.SortOrder != "descending" {
			writeError(w, http.StatusBadRequest, "bad.request", "sort must be Timestamp ascending or descending")
			return
		}
		if o.SortOrder == "descending" {
			slices.Reverse(run.records)
		}
	}
	s.mu.Lock()
	s.audits[run.id] = run
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"id": run.id, "state": "Queued"})
}

func eventDate(rec json.RawMessage) string {
	var v struct {
		EventDate string `json:"eventDate"`
	}
	_ = json.Unmarshal(rec, &v)
	return v.EventDate
}

func (s *Server) auditRun(w http.ResponseWriter, r *http.Request) (*auditRun, string, bool) {
	s.mu.Lock()
	run := s.audits[r.PathValue("id")]
	s.mu.Unlock()
	if run == nil {
		writeError(w, http.StatusNotFound, "not.found", "Audit query not found")
		return nil, "", false
	}
	el := time.Since(run.created)
	s.mu.Lock()
	run.reads++
	first := run.reads == 1
	s.mu.Unlock()
	switch {
	case s.cfg.UnknownEnums && (first || el < s.cfg.AuditDelay/2):
		return run, "Pending", true
	case el < s.cfg.AuditDelay/2:
		return run, "Queued", true
	case el < s.cfg.AuditDelay:
		return run, "Running", true
	case s.cfg.AuditState != "":
		return run, s.cfg.AuditState, true
	default:
		return run, "Succeeded", true
	}
}

// handleAuditStatus is GET /api/v2/audits/query/{id}.
func (s *Server) handleAuditStatus(w http.ResponseWriter, r *http.Request) {
	run, state, ok := s.auditRun(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": run.id, "state": state})
}

// handleAuditResults is GET /api/v2/audits/query/{id}/results?cursor=&pageSize=.
func (s *Server) handleAuditResults(w http.ResponseWriter, r *http.Request) {
	run, state, ok := s.auditRun(w, r)
	if !ok {
		return
	}
	if state != "Succeeded" {
		writeError(w, http.StatusBadRequest, "bad.request", "query is "+state)
		return
	}
	size := intParam(r, "pageSize", 25)
	if size < 1 || size > 500 {
		writeError(w, http.StatusBadRequest, "bad.request", "pageSize must be 1..500")
		return
	}
	off := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || n < 0 || n > len(run.records) {
			writeError(w, http.StatusBadRequest, "bad.request", "invalid cursor")
			return
		}
		off = n
	}
	end := min(off+size, len(run.records))
	resp := map[string]any{"id": run.id, "pageSize": size, "entities": run.records[off:end]}
	if end < len(run.records) {
		resp["cursor"] = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "o:%d", end))
	}
	writeJSON(w, http.StatusOK, resp)
}

// AddAuditRecords adds records to the organization's audit trail while the
// simulator runs.
func (s *Server) AddAuditRecords(recs ...AuditRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.AuditRecords = append(s.cfg.AuditRecords, recs...)
}
