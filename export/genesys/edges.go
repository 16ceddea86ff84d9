package genesys

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// permTelephony is the permission the edge endpoints are documented to
// need.
const permTelephony = "telephony:plugin:all"

const edgesPath = "/api/v2/telephony/providers/edges"

// maxEdgePages stops paging a listing that never ends.
const maxEdgePages = 10_000

// listEdges returns every edge of the organization, page by page; cloud
// media devices only with cloudMedia (showCloudMedia defaults to true at
// Genesys, so it is always sent).
func (c *Client) listEdges(ctx context.Context, cloudMedia bool) ([]edgeEntity, error) {
	var all []edgeEntity
	for page := 1; page <= maxEdgePages; page++ {
		q := url.Values{"pageSize": {"100"}, "pageNumber": {fmt.Sprint(page)}, "showCloudMedia": {fmt.Sprint(cloudMedia)}}
		l, _, err := doJSON(ctx, c, request{op: "list edges", method: http.MethodGet, path: edgesPath + "?" + q.Encode(), perm: permTelephony}, decodeEdgeListing)
		if err != nil {
			return nil, err
		}
		all = append(all, l.Entities...)
		if len(l.Entities) == 0 || l.PageCount <= page {
			return all, nil
		}
	}
	return nil, fmt.Errorf("genesys list edges: %w: more than %d pages", ErrMalformed, maxEdgePages)
}

// createLogJob creates a log job on an edge and returns its id and the
// answer's correlation id.
func (c *Client) createLogJob(ctx context.Context, edgeID string, body logJobRequest) (string, string, error) {
	r, resp, err := doJSON(ctx, c, request{
		op: "create log job", method: http.MethodPost, path: edgesPath + "/" + url.PathEscape(edgeID) + "/logs/jobs",
		body: body, perm: permTelephony,
	}, decodeID)
	if err != nil {
		return "", "", err
	}
	return r.ID, resp.correlationID, nil
}

// getLogJob reads a log job and returns it with the correlation id.
func (c *Client) getLogJob(ctx context.Context, edgeID, jobID string) (logJob, string, error) {
	j, resp, err := doJSON(ctx, c, request{
		op: "get log job", method: http.MethodGet, path: logJobPath(edgeID, jobID), perm: permTelephony,
	}, decodeLogJob)
	if err != nil {
		return j, "", err
	}
	return j, resp.correlationID, nil
}

// requestUpload asks the edge to upload files of a log job.
func (c *Client) requestUpload(ctx context.Context, edgeID, jobID string, fileIDs []string) error {
	_, err := c.do(ctx, request{
		op: "request log upload", method: http.MethodPost, path: logJobPath(edgeID, jobID) + "/upload",
		body: uploadRequest{FileIDs: fileIDs}, perm: permTelephony,
	})
	return err
}

// resolveDownload turns a download id into its pre-signed URL.
func (c *Client) resolveDownload(ctx context.Context, downloadID string) (string, error) {
	d, _, err := doJSON(ctx, c, request{
		op: "resolve download", method: http.MethodGet,
		path: "/api/v2/downloads/" + url.PathEscape(downloadID) + "?issueRedirect=false",
	}, decodeDownloadURL)
	if err != nil {
		return "", err
	}
	return d.URL, nil
}

func logJobPath(edgeID, jobID string) string {
	return edgesPath + "/" + url.PathEscape(edgeID) + "/logs/jobs/" + url.PathEscape(jobID)
}
