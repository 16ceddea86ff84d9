package genesys

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// permAudit is the permission the audit endpoints are documented to need.
const permAudit = "audits:audit:view"

const auditPath = "/api/v2/audits/query"

// maxAuditPages stops paging results that never end.
const maxAuditPages = 1_000_000

// createAuditQuery starts an asynchronous audit query.
func (c *Client) createAuditQuery(ctx context.Context, q auditQuery) (auditStatus, string, error) {
	st, resp, err := doJSON(ctx, c, request{op: "create audit query", method: http.MethodPost, path: auditPath, body: q, perm: permAudit}, decodeAuditStatus)
	if err != nil {
		return st, "", err
	}
	return st, resp.correlationID, nil
}

// auditQueryStatus reads the state of an audit query.
func (c *Client) auditQueryStatus(ctx context.Context, id string) (auditStatus, error) {
	st, _, err := doJSON(ctx, c, request{op: "get audit query", method: http.MethodGet, path: auditPath + "/" + url.PathEscape(id), perm: permAudit}, decodeAuditStatus)
	return st, err
}

// auditPage reads one page of an audit query's results.
func (c *Client) auditPage(ctx context.Context, id, cursor string, pageSize int) (auditResults, error) {
	q := url.Values{"pageSize": {strconv.Itoa(pageSize)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	r, _, err := doJSON(ctx, c, request{
		op: "read audit results", method: http.MethodGet,
		path: auditPath + "/" + url.PathEscape(id) + "/results?" + q.Encode(), perm: permAudit,
	}, decodeAuditResults)
	return r, err
}

// auditPages walks the pages of an audit query's results and calls fn with
// each page's entities, in order.
func (c *Client) auditPages(ctx context.Context, id string, pageSize int, fn func(r auditResults) error) error {
	cursor := ""
	for range maxAuditPages {
		r, err := c.auditPage(ctx, id, cursor, pageSize)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if r.Cursor == "" {
			return nil
		}
		if r.Cursor == cursor {
			return fmt.Errorf("genesys read audit results: %w: the cursor did not move", ErrMalformed)
		}
		cursor = r.Cursor
	}
	return fmt.Errorf("genesys read audit results: %w: more than %d pages", ErrMalformed, maxAuditPages)
}
