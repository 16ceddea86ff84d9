// Package tsa gets and checks RFC 3161 time-stamp tokens: a time-stamp
// authority (TSA) signs the SHA-256 of a message together with the time it
// saw it, so that "this existed at T" does not rest on our own clock.
//
// The ASN.1 and CMS work is github.com/digitorus/timestamp and
// github.com/digitorus/pkcs7. This package adds what a relying party must
// check on top of them: the message imprint, the request's nonce, a chain
// to the configured roots at the attested time, and the TSA certificate's
// critical, sole timeStamping extended key usage (RFC 3161 section 2.3).
// Tokens are hostile input: their size is capped before parsing and a
// parser panic is an invalid token, not a crash.
package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// MaxTokenBytes caps a time-stamp response or token, from the authority or
// from a store. Real tokens with a certificate chain are a few KiB.
const MaxTokenBytes = 64 << 10

// maxRootsBytes caps the roots file.
const maxRootsBytes = 1 << 20

// Errors. Each is wrapped with what was found.
var (
	// ErrInvalid means a token does not prove the message's time: it does
	// not parse, is not for this message, is not signed by a certificate
	// chaining to the roots, or that certificate is not a TSA's.
	ErrInvalid = errors.New("time-stamp token invalid")
	// ErrAuthority means the authority could not be reached or did not
	// grant a valid token.
	ErrAuthority = errors.New("time-stamp authority failed")
)

// oidTSTInfo is id-ct-TSTInfo (RFC 3161), the signed content type of a
// time-stamp token.
var oidTSTInfo = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

// oidContentType is the CMS content-type signed attribute.
var oidContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}

// oidExtKeyUsage is the extended key usage certificate extension.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// Stamp is what a valid token attests.
type Stamp struct {
	// Time is the time the authority attests (genTime), in UTC.
	Time time.Time `json:"time"`
	// Accuracy is the authority's stated accuracy (0: not stated).
	Accuracy time.Duration `json:"-"`
	// Authority is the subject of the TSA certificate that signed.
	Authority string `json:"authority"`
	// Serial is the token's serial number, decimal.
	Serial string `json:"serial"`
	// Policy is the TSA policy the token was issued under.
	Policy string `json:"policy"`
}

// LoadRoots reads a PEM file of trusted TSA root certificates: every block
// must be a CERTIFICATE that parses, and there must be at least one.
func LoadRoots(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRootsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRootsBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxRootsBytes)
	}
	return ParseRoots(b)
}

// ParseRoots parses PEM certificates as LoadRoots does.
func ParseRoots(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for i := 1; ; i++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", i, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", i, err)
		}
		pool.AddCert(c)
		n++
	}
	if len(bytes.TrimSpace(b)) > 0 {
		return nil, errors.New("text after the last PEM certificate is not PEM")
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

// Verify checks that token is a time-stamp token over the SHA-256 of msg,
// signed by a TSA certificate that chains to roots (at the attested time)
// and carries the critical timeStamping extended key usage as its only
// one. Every failure wraps ErrInvalid.
func Verify(token, msg []byte, roots *x509.CertPool) (*Stamp, error) {
	st, _, err := verify(token, msg, roots)
	return st, err
}

func verify(token, msg []byte, roots *x509.CertPool) (s *Stamp, nonce *big.Int, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, nonce, err = nil, nil, fmt.Errorf("%w: it does not parse (parser panic)", ErrInvalid)
		}
	}()
	if len(token) > MaxTokenBytes {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxTokenBytes)
	}
	if roots == nil {
		return nil, nil, fmt.Errorf("%w: no trusted roots", ErrInvalid)
	}
	p7, err := pkcs7.Parse(token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not a CMS signed message: %v", ErrInvalid, err)
	}
	if len(p7.Certificates) == 0 {
		return nil, nil, fmt.Errorf("%w: it carries no certificate (requested with certReq)", ErrInvalid)
	}
	signer := p7.GetOnlySigner()
	if signer == nil || len(p7.Signers) != 1 {
		return nil, nil, fmt.Errorf("%w: want exactly one signer whose certificate is in the token, found %d signers", ErrInvalid, len(p7.Signers))
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(oidContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return nil, nil, fmt.Errorf("%w: the signed content is not a TSTInfo", ErrInvalid)
	}
	if err := timestampingOnly(signer); err != nil {
		return nil, nil, err
	}
	// Parse checks the CMS signature with the signer's certificate and
	// the signed attributes' digest of the TSTInfo.
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if ts.Time.IsZero() {
		return nil, nil, fmt.Errorf("%w: no time", ErrInvalid)
	}
	// The chain, at the attested time: a TSA certificate that expired
	// since still vouches for what it signed while it was valid.
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	if err := p7.VerifyWithOpts(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		return nil, nil, fmt.Errorf("%w: signed by %q, which does not chain to the trusted roots: %v", ErrInvalid, signer.Subject.String(), err)
	}
	want := sha256.Sum256(msg)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) {
		return nil, nil, fmt.Errorf("%w: its message imprint (%v %x) is not the SHA-256 of the checkpoint (%x): the checkpoint changed after it was stamped, or the token is for something else",
			ErrInvalid, ts.HashAlgorithm, ts.HashedMessage, want[:])
	}
	s = &Stamp{Time: ts.Time.UTC(), Accuracy: ts.Accuracy, Authority: signer.Subject.String(), Policy: ts.Policy.String()}
	if ts.SerialNumber != nil {
		s.Serial = ts.SerialNumber.String()
	}
	return s, ts.Nonce, nil
}

// timestampingOnly checks RFC 3161 section 2.3: the TSA certificate has
// one extended key usage, timeStamping, in a critical extension. (A
// certificate without the extension would pass x509 key usage checks as
// valid for any purpose.)
func timestampingOnly(c *x509.Certificate) error {
	critical := false
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 || !critical {
		return fmt.Errorf("%w: the certificate of %q does not have timeStamping as its only, critical, extended key usage", ErrInvalid, c.Subject.String())
	}
	return nil
}

// Client asks one authority for tokens.
type Client struct {
	// URL is the authority's RFC 3161 HTTP endpoint.
	URL string
	// Roots are the trusted TSA roots: every token received is verified
	// before it is returned, so that a misconfigured or hostile authority
	// fails the run instead of leaving tokens verify will refuse.
	Roots *x509.CertPool
	// HTTP is the client (default: 30 s timeout, no redirects).
	HTTP *http.Client
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// host names the authority in errors (never its path or query).
func (c *Client) host() string {
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "the time-stamp authority"
}

// Stamp asks the authority for a token over the SHA-256 of msg, with a
// random nonce and the TSA certificate requested, and verifies it. It
// returns the token (the TimeStampToken, DER) and what it attests. Every
// failure wraps ErrAuthority.
func (c *Client) Stamp(ctx context.Context, msg []byte) ([]byte, *Stamp, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(msg)
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: request: %v", ErrAuthority, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrAuthority, c.host(), err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	hr.Header.Set("Accept", "application/timestamp-reply")
	resp, err := c.client().Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrAuthority, c.host(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: reading the reply: %v", ErrAuthority, c.host(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: %s answered HTTP %d", ErrAuthority, c.host(), resp.StatusCode)
	}
	if len(body) > MaxTokenBytes {
		return nil, nil, fmt.Errorf("%w: %s: reply larger than %d bytes", ErrAuthority, c.host(), MaxTokenBytes)
	}
	token, err := parseResponse(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrAuthority, c.host(), err)
	}
	st, got, err := verify(token, msg, c.Roots)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrAuthority, c.host(), err)
	}
	if got == nil || got.Cmp(nonce) != 0 {
		return nil, nil, fmt.Errorf("%w: %s: the token's nonce is not the request's (a replayed reply)", ErrAuthority, c.host())
	}
	return token, st, nil
}

// parseResponse returns the token of a granted TimeStampResp.
func parseResponse(body []byte) (token []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			token, err = nil, errors.New("the reply does not parse (parser panic)")
		}
	}()
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		// The status text is the authority's: quote it.
		return nil, fmt.Errorf("not granted or not a time-stamp reply: %s", strconv.Quote(err.Error()))
	}
	return ts.RawToken, nil
}
