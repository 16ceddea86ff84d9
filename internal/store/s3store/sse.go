package s3store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/logkeeper/logkeeper/internal/store"
)

// headerSSEContext is the response (and request) header that carries the
// SSE-KMS encryption context, base64 of a JSON object.
const headerSSEContext = "X-Amz-Server-Side-Encryption-Context"

// sseRequest is what PutObject and CreateMultipartUpload send for SSE-KMS.
type sseRequest struct {
	algorithm types.ServerSideEncryption
	keyID     *string
	context   *string
}

// encodeSSE validates sse and returns the request fields and the SSE to
// report in ObjectInfo (a copy, with the algorithm filled in).
func encodeSSE(sse *store.SSE) (sseRequest, *store.SSE, error) {
	if sse == nil {
		return sseRequest{}, nil, nil
	}
	alg := sse.Algorithm
	if alg == "" {
		alg = string(types.ServerSideEncryptionAwsKms)
	}
	if alg != string(types.ServerSideEncryptionAwsKms) && alg != string(types.ServerSideEncryptionAwsKmsDsse) {
		return sseRequest{}, nil, fmt.Errorf("sse algorithm %q: want %q or %q", sse.Algorithm, types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse)
	}
	req := sseRequest{algorithm: types.ServerSideEncryption(alg)}
	if sse.KMSKeyID != "" {
		req.keyID = &sse.KMSKeyID
	}
	if len(sse.Context) > 0 {
		c, err := encodeSSEContext(sse.Context)
		if err != nil {
			return sseRequest{}, nil, err
		}
		req.context = &c
	}
	return req, &store.SSE{Algorithm: alg, KMSKeyID: sse.KMSKeyID, Context: maps.Clone(sse.Context)}, nil
}

// encodeSSEContext is the header form of an encryption context: base64 of
// its JSON (keys sorted, as encoding/json writes maps).
func encodeSSEContext(c map[string]string) (string, error) {
	j, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sse context: %w", err)
	}
	return base64.StdEncoding.EncodeToString(j), nil
}

func decodeSSEContext(h string) (map[string]string, error) {
	j, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("sse context header is not base64: %w", err)
	}
	var c map[string]string
	if err := json.Unmarshal(j, &c); err != nil {
		return nil, fmt.Errorf("sse context header is not a JSON object of strings: %w", err)
	}
	return c, nil
}

type sseContextKey struct{}

// captureSSEContext keeps the raw encryption-context response header, which
// the SDK's outputs have no field for, in the output's ResultMetadata.
func captureSSEContext(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("logkeeperCaptureSSEContext",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
				middleware.DeserializeOutput, middleware.Metadata, error,
			) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
					if v := resp.Header.Get(headerSSEContext); v != "" {
						md.Set(sseContextKey{}, v)
					}
				}
				return out, md, err
			}), middleware.After)
	})
}

// sseOf builds the SSE a Head or Get response reports; nil when none.
func sseOf(alg types.ServerSideEncryption, keyID *string, md middleware.Metadata) (*store.SSE, error) {
	raw, _ := md.Get(sseContextKey{}).(string)
	// AES256 (SSE-S3) is the default encryption of every AWS bucket: it is
	// not what store.SSE describes.
	if alg == "" || alg == types.ServerSideEncryptionAes256 {
		if raw == "" {
			return nil, nil
		}
	}
	sse := &store.SSE{Algorithm: string(alg)}
	if keyID != nil {
		sse.KMSKeyID = *keyID
	}
	if raw != "" {
		c, err := decodeSSEContext(raw)
		if err != nil {
			return nil, err
		}
		sse.Context = c
	}
	return sse, nil
}
