package bundle

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

var page = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Discovery bundle {{.Matter}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em;text-align:left;vertical-align:top}code{font-size:.85em;word-break:break-all}</style>
</head><body>
<h1>Discovery bundle, matter {{.Matter}}</h1>
<p>Stream <code>{{.Stream}}</code> from archive <code>{{.Store}}</code>; runs whose window overlaps
{{if .From}}{{.From.Format "2006-01-02T15:04:05Z07:00"}}{{else}}the beginning{{end}} to
{{if .To}}{{.To.Format "2006-01-02T15:04:05Z07:00"}}{{else}}the end{{end}}.
Produced {{.CreatedAt.Format "2006-01-02T15:04:05Z07:00"}} by {{.CreatedBy}}. Signing key <code>{{.KeyID}}</code>.</p>
<p>{{len .Files}} files, {{.Bytes}} bytes, {{len .Manifests}} manifests. See README.txt for how to verify this bundle.</p>
{{if not .Files}}<p><strong>This bundle holds no files: no archived data in the selected range.</strong></p>{{end}}
<h2>Manifests</h2>
<table><tr><th>sequence</th><th>file</th><th>SHA-256</th><th>signature</th></tr>
{{range .Manifests}}<tr><td>{{.Sequence}}</td><td><code>{{.Path}}</code></td><td><code>{{.SHA256}}</code></td><td><code>{{.Signature}}</code></td></tr>
{{end}}</table>
<h2>Custody events</h2>
<table><tr><th>sequence</th><th>file</th><th>SHA-256</th></tr>
{{range .Events}}<tr><td>{{.Sequence}}</td><td><code>{{.Path}}</code></td><td><code>{{.SHA256}}</code></td></tr>
{{end}}</table>
<h2>Files</h2>
<table><tr><th>file</th><th>origin</th><th>modified</th><th>size</th><th>SHA-256</th><th>manifest</th></tr>
{{range .Files}}<tr><td><code>{{.Path}}</code></td><td><code>{{.Source.Path}}</code>{{range $k, $v := .Source.IDs}}<br>{{$k}}: <code>{{$v}}</code>{{end}}</td><td>{{if not .Source.Modified.IsZero}}{{.Source.Modified.Format "2006-01-02T15:04:05Z07:00"}}{{end}}</td><td>{{.Size}}</td><td><code>{{.SHA256}}</code></td><td>{{.Manifest}} (leaf {{.LeafIndex}})</td></tr>
{{end}}</table>
</body></html>
`))

// HTML renders index.html: a page with no external assets and no script.
// Every string is escaped.
func HTML(ix *Index) []byte {
	var b bytes.Buffer
	if err := page.Execute(&b, ix); err != nil {
		// The template is fixed and the index is plain data.
		panic(fmt.Sprintf("render index.html: %v", err))
	}
	return b.Bytes()
}

// Readme renders README.txt, for counsel.
func Readme(ix *Index) []byte {
	var b strings.Builder
	rng := func(t *time.Time, open string) string {
		if t == nil {
			return open
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintf(&b, `Discovery bundle for matter %q
================================

Stream %q of the archive %s, runs whose time window overlaps
[%s, %s). Produced %s by %s.

`, ix.Matter, ix.Stream, ix.Store, rng(ix.From, "the beginning"), rng(ix.To, "the end"),
		ix.CreatedAt.Format(time.RFC3339), ix.CreatedBy)
	if len(ix.Files) == 0 {
		b.WriteString("THIS BUNDLE IS EMPTY: the archive holds no data in the selected range.\nThe manifests included (if any) attest the runs that found nothing.\n\n")
	} else {
		fmt.Fprintf(&b, "It holds %d files (%d bytes) and the %d signed manifests that list them.\n\n", len(ix.Files), ix.Bytes, len(ix.Manifests))
	}
	fmt.Fprintf(&b, `What is here
------------
files/       each file exactly as stored in the archive
proofs/      for each file, an RFC 6962 inclusion proof of its record in its
             manifest's Merkle root
manifests/   the signed manifests (JSON) and their signatures (.sig); each
             manifest names the previous one by the SHA-256 of its bytes
custody/     the matter's custody events (holds placed and released,
             verifications recorded for it, earlier bundles) from the
             archive's signed, hash-chained custody log, with signatures
pubkey.pem   the public key the manifests are signed with (%s)
index.json   machine-readable index; index.html the same, readable
SHA256SUMS   the SHA-256 of every other file in this folder

How to verify, with logkeeper
-----------------------------
Obtain the archive owner's public key independently (not from this
bundle), then, with no network needed:

    logkeeper verify-bundle . --pubkey THEIR-KEY.pem

It checks every file's hash against its signed manifest, every proof
against the manifest's Merkle root, every signature, and the links between
the manifests, and names each problem with its path. Without --pubkey it
trusts the bundled key, which proves the bundle is intact but not who
produced it.

How to verify, without logkeeper
--------------------------------
1. sha256sum -c SHA256SUMS    (every file is as it was bundled)
2. Compare the fingerprint of pubkey.pem with the owner's published one:
   openssl pkey -pubin -in pubkey.pem -outform DER | sha256sum
   (key_id in each .sig is "sha256:" followed by that hash)
3. Each manifests/N.RUN.sig holds "signature" (base64) over the exact bytes
   of manifests/N.json; Ed25519 signs the bytes, ECDSA P-256 their SHA-256.
4. Each manifest's "previous.sha256" is the SHA-256 of the manifest before
   it: sha256sum manifests/*.json
5. Each file's SHA-256 and size are in its manifest's "objects"; the proof
   file gives the leaf record ("logkeeper-object/v1\n key \n version \n size
   \n sha256 \n"), hashed as SHA-256(0x00 || leaf), then combined with
   "hashes" as RFC 6962 describes (SHA-256(0x01 || left || right)) up to
   the manifest's "merkle.root".
`, ix.KeyID)
	return []byte(b.String())
}
