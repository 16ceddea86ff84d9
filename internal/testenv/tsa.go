package testenv

import (
	"os"
	"testing"
)

// Environment variables written by scripts/tsa.sh (started by
// scripts/testenv.sh): the loopback RFC 3161 time-stamp authority, an
// openssl `ts -reply` behind tools/tsa.
const (
	EnvTSAURL      = "LOGKEEPER_TEST_TSA_URL"
	EnvTSAOtherURL = "LOGKEEPER_TEST_TSA_OTHER_URL"
	EnvTSARoots    = "LOGKEEPER_TEST_TSA_ROOTS"
)

// TSAEnv is the running test time-stamp authority.
type TSAEnv struct {
	// URL signs with a TSA certificate under the root in Roots (through
	// an intermediate CA the tokens carry).
	URL string
	// OtherURL signs with a TSA certificate under another root.
	OtherURL string
	// Roots is the PEM file of the trusted test root.
	Roots string
}

// TSA returns the test time-stamp authority, or skips/fails the test when
// there is none.
func TSA(t testing.TB) TSAEnv {
	t.Helper()
	e := TSAEnv{URL: os.Getenv(EnvTSAURL), OtherURL: os.Getenv(EnvTSAOtherURL), Roots: os.Getenv(EnvTSARoots)}
	if e.URL == "" || e.OtherURL == "" || e.Roots == "" {
		missing(t, "time-stamp authority ("+EnvTSAURL+")")
	}
	requireLoopback(t, e.URL)
	requireLoopback(t, e.OtherURL)
	return e
}
