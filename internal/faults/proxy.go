package faults

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/logkeeper/logkeeper/internal/loopback"
)

// Kind is what the proxy does with a request.
type Kind int

// The kinds of fault, and Pass for none.
const (
	Pass Kind = iota
	SlowDown
	InternalError
	Reset
	ResetAfter
	Slow
	numKinds
)

var kindNames = [...]string{"pass", "slowdown", "internal_error", "reset", "reset_after", "slow"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Config configures a Proxy.
type Config struct {
	// Target is the base URL of the server behind the proxy; it must be on
	// loopback.
	Target string
	// Seed makes the choice of faulted requests reproducible.
	Seed uint64
	// Rate is the share of requests that get a fault, 0..1.
	Rate float64
	// Weights are the relative frequencies of the fault kinds (index: Kind;
	// Pass is ignored). Nil means every fault kind equally often.
	Weights map[Kind]int
	// MaxDelay bounds the delay of a Slow answer (default 500ms).
	MaxDelay time.Duration
	// Plan, when not nil, decides instead of Rate and Weights: it is given
	// the request and how many requests with the same identity (method,
	// path, part number) came before it, and returns what to do.
	Plan func(r *http.Request, n uint64) Kind
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:PORT.
	URL string

	cfg     Config
	target  *url.URL
	rp      *httputil.ReverseProxy
	srv     *http.Server
	ln      net.Listener
	weights [numKinds]int
	total   int

	mu     sync.Mutex
	rate   float64
	seen   map[string]uint64 // occurrences of each request identity
	counts [numKinds]int
}

// Start starts a proxy for cfg on a free port of 127.0.0.1.
func Start(cfg Config) (*Proxy, error) {
	target, err := url.Parse(cfg.Target)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("faults: target %q is not a URL", cfg.Target)
	}
	if !loopback.Is(target.Hostname()) {
		return nil, fmt.Errorf("faults: target %s is not on loopback", cfg.Target)
	}
	if cfg.Rate < 0 || cfg.Rate > 1 {
		return nil, fmt.Errorf("faults: rate %v is not in 0..1", cfg.Rate)
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 500 * time.Millisecond
	}
	p := &Proxy{cfg: cfg, target: target, rate: cfg.Rate, seen: map[string]uint64{}}
	for k := SlowDown; k < numKinds; k++ {
		w := 1
		if cfg.Weights != nil {
			w = max(cfg.Weights[k], 0)
		}
		p.weights[k] = w
		p.total += w
	}
	if p.total == 0 && cfg.Rate > 0 && cfg.Plan == nil {
		return nil, errors.New("faults: every fault kind has weight 0")
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed by the client: keep it
		},
		Transport: transport,
		ErrorLog:  nil,
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	p.URL = "http://" + p.ln.Addr().String()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(p.ln) //nolint:errcheck // ends with Close
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// SetRate changes the share of faulted requests (0 turns faults off).
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// Counts returns how many requests got each kind so far.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[Kind]int, numKinds)
	for k, n := range p.counts {
		m[Kind(k)] = n
	}
	return m
}

// Faults returns how many requests got a fault (any kind but Pass).
func (p *Proxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k := SlowDown; k < numKinds; k++ {
		n += p.counts[k]
	}
	return n
}

// decide picks the kind for a request and, for Slow, its delay.
func (p *Proxy) decide(r *http.Request) (Kind, time.Duration) {
	q := r.URL.Query()
	id := r.Method + " " + r.URL.Path + " part=" + q.Get("partNumber")
	for _, flag := range []string{"uploads", "uploadId", "versions", "versionId", "list-type", "object-lock"} {
		if q.Has(flag) {
			id += " " + flag
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.seen[id]
	p.seen[id] = n + 1
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], p.cfg.Seed)
	h := sha256.New()
	h.Write(seed[:])
	fmt.Fprintf(h, "%s\x00%d", id, n)
	sum := h.Sum(nil)
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	k := Pass
	if p.cfg.Plan != nil {
		k = p.cfg.Plan(r, n)
	} else if u < p.rate {
		pick := int(binary.BigEndian.Uint64(sum[8:16]) % uint64(p.total))
		for k = SlowDown; k < numKinds; k++ {
			if pick < p.weights[k] {
				break
			}
			pick -= p.weights[k]
		}
	}
	p.counts[k]++
	delay := time.Duration(binary.BigEndian.Uint64(sum[16:24]) % uint64(p.cfg.MaxDelay))
	return k, delay
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, delay := p.decide(r)
	switch kind {
	case SlowDown:
		s3Error(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate. (injected)")
	case InternalError:
		s3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again. (injected)")
	case Reset:
		reset(w)
	case ResetAfter:
		p.forwardThenReset(w, r)
	case Slow:
		time.Sleep(delay)
		p.rp.ServeHTTP(w, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// s3Error answers with an S3 error document, after reading the request
// body so that the answer is a clean HTTP exchange.
func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faults</RequestId></Error>", code, msg, r.URL.Path)
	}
}

// reset closes the client's connection with a TCP RST, sending nothing.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// forwardThenReset has the server carry out the request, reads its whole
// answer, and then resets the client's connection instead of answering.
func (p *Proxy) forwardThenReset(w http.ResponseWriter, r *http.Request) {
	rec := &discardWriter{h: http.Header{}}
	p.rp.ServeHTTP(rec, r)
	reset(w)
}

// discardWriter is a ResponseWriter that throws the answer away.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
