package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// stsTimeout bounds the GetCallerIdentity call that names the actor.
const stsTimeout = 10 * time.Second

// OSUser is the operating-system account running this process.
func OSUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// ResolveActor names who records custody events: flag (--actor) when
// given; else, when the store is S3, the AWS caller identity (the ARN
// that STS GetCallerIdentity returns for the credentials in use); else the
// OS user.
//
// STS is asked only where the credentials belong: at an STS endpoint set
// explicitly (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the profile's
// services section), or at AWS's own STS when the store is AWS's own S3
// (no S3 endpoint set). A store on another S3 server (a custom endpoint)
// with no STS endpoint set is not sent to AWS: its actor is the OS user.
// A failing call falls back to the OS user with a warning that names the
// error's code only, never a credential.
func ResolveActor(ctx context.Context, cfg *config.Config, flag string, log *slog.Logger) string {
	if flag != "" {
		return flag
	}
	if cfg.Store.Scheme != config.SchemeS3 {
		return OSUser()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil || awsCfg.Region == "" {
		log.Warn("actor: AWS configuration not loaded; recording the OS user", "user", OSUser())
		return OSUser()
	}
	client := sts.NewFromConfig(awsCfg)
	if client.Options().BaseEndpoint == nil && s3.NewFromConfig(awsCfg).Options().BaseEndpoint != nil {
		log.Debug("actor: the store is not on AWS and no STS endpoint is set; recording the OS user", "user", OSUser())
		return OSUser()
	}
	cctx, cancel := context.WithTimeout(ctx, stsTimeout)
	defer cancel()
	out, err := client.GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	if err != nil || out.Arn == nil || *out.Arn == "" {
		log.Warn("actor: AWS caller identity unknown; recording the OS user", "user", OSUser(), "reason", stsFailure(err))
		return OSUser()
	}
	return *out.Arn
}

// stsFailure says why GetCallerIdentity failed without repeating what
// the server or the SDK said (which may quote a key id).
func stsFailure(err error) string {
	var api smithy.APIError
	switch {
	case err == nil:
		return "no ARN in the answer"
	case errors.As(err, &api):
		return "STS error " + api.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "STS did not answer in " + stsTimeout.String()
	default:
		return "STS could not be reached or answered something else than GetCallerIdentity"
	}
}

// Recorder appends custody events to a store's custody log, signed by the
// store's signing key, as one actor on this host.
type Recorder struct {
	Store  store.Store
	Signer signing.Signer
	Actor  string
}

// Record fills the event's actor (when empty), host, version and time and
// appends it.
func (r *Recorder) Record(ctx context.Context, e *custody.Event) error {
	ex := Exporter()
	if e.Actor == "" {
		e.Actor = r.Actor
	}
	e.Host, e.Version, e.Time = ex.Host, ex.Version, time.Now()
	return custody.AppendEvent(ctx, r.Store, r.Signer, e)
}

// ExportRunEvent is the custody event of an export run that wrote res.
func ExportRunEvent(res *export.Result, reason string) *custody.Event {
	seqs := make([]string, len(res.Sealed))
	sums := make([]string, len(res.Sealed))
	for i, s := range res.Sealed {
		seqs[i], sums[i] = strconv.FormatUint(s.Sequence, 10), s.SHA256
	}
	return &custody.Event{Type: custody.EventExportRun, Reason: reason, Stream: res.Stream, Details: map[string]string{
		"run_id": res.RunID, "sequences": strings.Join(seqs, ","), "manifest_sha256": strings.Join(sums, ","),
		"parts": strconv.Itoa(len(res.Sealed)), "files": strconv.Itoa(res.Files), "bytes": strconv.FormatInt(res.Bytes, 10),
		"failed": strconv.Itoa(res.Failed)}}
}

// RecordingRunner runs an export with run and records each run that wrote
// a manifest in the custody log. The run's outcome is run's: a run whose
// event could not be recorded is logged as an error but not failed, since
// its signed manifests are in the chain and running it again would archive
// the same window twice.
func RecordingRunner(run daemon.RunFunc, rec *Recorder, log *slog.Logger) daemon.RunFunc {
	return func(ctx context.Context, end time.Time, reason string) (*export.Result, error) {
		res, err := run(ctx, end, reason)
		if res != nil && len(res.Sealed) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if rerr := rec.Record(rctx, ExportRunEvent(res, reason)); rerr != nil {
				log.Error("export run not recorded in the custody log", "stream", res.Stream, "run_id", res.RunID,
					"err", fmt.Sprintf("%v", rerr))
			}
		}
		return res, err
	}
}
