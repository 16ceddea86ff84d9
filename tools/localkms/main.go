// Command localkms serves nsmithuk/local-kms on a loopback address only.
//
// The upstream binary listens on every interface; logkeeper's tests must send
// traffic to 127.0.0.1 only, so this wrapper serves the same handler on the
// address given by -addr (default 127.0.0.1:0) and prints the bound address
// on its first line of standard output.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	dir := flag.String("data", "", "database folder (required)")
	region := flag.String("region", "us-east-1", "AWS region reported in key ARNs")
	account := flag.String("account", "111122223333", "AWS account id reported in key ARNs")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-data is required")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("addr: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("addr %s is not a loopback address", *addr)
	}
	config.AWSRegion = *region
	config.AWSAccountId = *account
	config.DatabasePath, err = filepath.Abs(*dir)
	if err != nil {
		log.Fatal(err)
	}
	db := data.NewDatabase(config.DatabasePath)
	defer db.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, ln.Addr().String())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src.HandleRequest(w, r, db)
	}))
	log.Fatal(err)
}
