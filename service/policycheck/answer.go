package policycheck

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/smithy-go"
)

// outcome is how a server answered a read of a setting.
type outcome int

const (
	answered outcome = iota // the setting, in the answer
	absent                  // the server says the setting is not there
	silent                  // the server does not say: not implemented, access denied, another refusal
)

// answer classifies err, the error of reading a setting with the API call
// named call. absentCodes are the error codes that mean "no such setting"
// (NoSuchBucketPolicy, ...). why says, for silent, what the server said.
// A network error, a bucket that does not exist or an error that is not a
// server's answer is returned as fatal: the check cannot complete.
func answer(call string, err error, absentCodes ...string) (o outcome, why string, fatal error) {
	if err == nil {
		return answered, "", nil
	}
	var ae smithy.APIError
	code, status := "", 0
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var he interface{ HTTPStatusCode() int }
	if errors.As(err, &he) {
		status = he.HTTPStatusCode()
	}
	switch {
	case code == "" && status == 0:
		return 0, "", fmt.Errorf("%s: %w", call, err)
	case code == "NoSuchBucket":
		return 0, "", fmt.Errorf("%s: %w", call, err)
	case slices.Contains(absentCodes, code):
		return absent, code, nil
	case code == "NotImplemented" || status == http.StatusNotImplemented:
		return silent, fmt.Sprintf("the server does not implement %s (%s)", call, codeOr(code, status)), nil
	case code == "AccessDenied" || code == "AccessDeniedException" || status == http.StatusForbidden:
		return silent, fmt.Sprintf("access denied to %s: the credentials may not read this setting (%s)", call, codeOr(code, status)), nil
	case code == "UnsupportedOperationException":
		return silent, fmt.Sprintf("%s does not apply to this key (%s)", call, code), nil
	}
	return silent, fmt.Sprintf("%s answered %s", call, codeOr(code, status)), nil
}

func codeOr(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", status)
}
