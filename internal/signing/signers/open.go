package signers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/awskms"
)

// URI schemes.
const (
	SchemeFile   = "file"
	SchemeAWSKMS = "awskms"
)

// Open opens the signer that uri names (see the package doc). kmsClient is
// called only for an awskms URI, to build the KMS client; nil means
// DefaultKMSClient. Errors name what is wrong with uri, or wrap those of
// signing.LoadKeyFile and awskms.New.
func Open(ctx context.Context, uri string, kmsClient func(context.Context) (*kms.Client, error)) (signing.Signer, error) {
	if id, ok := strings.CutPrefix(uri, SchemeAWSKMS+"://"); ok {
		return openKMS(ctx, id, kmsClient)
	}
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return nil, fmt.Errorf("signing key %q: want file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN", uri)
	}
	if scheme != SchemeFile {
		return nil, fmt.Errorf("signing key %q: unsupported scheme %q: want file:// or awskms://", uri, scheme)
	}
	path, err := filePath(uri)
	if err != nil {
		return nil, fmt.Errorf("signing key %q: %w", uri, err)
	}
	return signing.LoadKeyFile(path)
}

func filePath(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	switch {
	case u.User != nil:
		return "", errors.New("file URL must not contain credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("file URL must not have a query or fragment")
	case u.Host != "" && u.Host != "localhost":
		return "", fmt.Errorf("file URL needs an absolute path, as in file:///ABS/PATH (%q is read as a host name)", u.Host)
	case u.Opaque != "" || u.Path == "" || !filepath.IsAbs(u.Path):
		return "", errors.New("file URL needs an absolute path, as in file:///ABS/PATH")
	}
	return filepath.Clean(u.Path), nil
}

func openKMS(ctx context.Context, id string, kmsClient func(context.Context) (*kms.Client, error)) (signing.Signer, error) {
	switch {
	case id == "":
		return nil, errors.New("awskms:// needs a key id, alias/NAME or ARN")
	case strings.HasPrefix(id, "/"):
		return nil, errors.New("write awskms://KEY-ID-OR-ALIAS-OR-ARN with two slashes, as in awskms://alias/NAME")
	case strings.ContainsFunc(id, unicode.IsSpace):
		return nil, fmt.Errorf("kms key id %q contains white space", id)
	}
	if kmsClient == nil {
		kmsClient = DefaultKMSClient
	}
	client, err := kmsClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("kms key %q: %w", id, err)
	}
	s, err := awskms.New(ctx, client, id)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// DefaultKMSClient returns a KMS client configured by the AWS SDK's default
// chain: environment variables (AWS_REGION, AWS_PROFILE, credentials,
// AWS_ENDPOINT_URL_KMS, AWS_CA_BUNDLE), the shared config files, and
// container or instance roles.
func DefaultKMSClient(ctx context.Context) (*kms.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("load AWS config: no region: set AWS_REGION or a region in the AWS profile")
	}
	return kms.NewFromConfig(cfg), nil
}
