// Command tsa is the loopback RFC 3161 time-stamp authority the tests use:
// an HTTP front for `openssl ts -reply`, so that the tokens logkeeper
// verifies are made by an independent implementation, not by our own code.
// scripts/tsa.sh makes its keys and certificates with openssl and starts it.
//
//	tsa -addr 127.0.0.1:0 -dir DIR
//
// DIR holds openssl.cnf, whose sections tsa_main and tsa_other name the
// signer certificates, keys and serial files. POST / signs with tsa_main,
// POST /other with tsa_other (a TSA under another root); any other path is
// 404. The first line printed is the address bound.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const maxQuery = 16 << 10

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	dir := flag.String("dir", "", "folder with openssl.cnf and the TSA keys")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "::1" && host != "localhost") {
		log.Fatalf("tsa: -addr must be a loopback address, got %q", *addr)
	}
	if *dir == "" {
		log.Fatal("tsa: -dir is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	s := &server{dir: *dir}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

type server struct {
	dir string
	mu  sync.Mutex // openssl ts -reply updates the serial file
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	section := map[string]string{"/": "tsa_main", "/other": "tsa_other"}[r.URL.Path]
	if section == "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST a time-stamp query", http.StatusMethodNotAllowed)
		return
	}
	q, err := io.ReadAll(io.LimitReader(r.Body, maxQuery+1))
	if err != nil || len(q) > maxQuery {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	reply, err := s.reply(r.Context(), section, q)
	if err != nil {
		log.Printf("tsa: %s: %v", section, err)
		http.Error(w, "openssl failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(reply)
}

func (s *server) reply(ctx context.Context, section string, q []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp, err := os.MkdirTemp(s.dir, "req")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in, out := filepath.Join(tmp, "q.tsq"), filepath.Join(tmp, "r.tsr")
	if err := os.WriteFile(in, q, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "openssl", "ts", "-reply", "-config", filepath.Join(s.dir, "openssl.cnf"),
		"-section", section, "-queryfile", in, "-out", out)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}
