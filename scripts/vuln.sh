#!/usr/bin/env bash
# vuln.sh runs govulncheck over the module (make vuln; CI) and fails when the
# code calls a known-vulnerable function. It installs a
# pinned govulncheck into the tools cache (${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools})
# if absent. The vulnerability database: $LOGKEEPER_VULNDB when set (a URL
# govulncheck takes with -db, e.g. the public Go vulnerability database);
# otherwise the latest golang.org/x/vulndb module through the Go module
# proxy, indexed by tools/vulndb into the tools cache (the same entries the
# public database serves, as of that module version). No other host is
# contacted: the machines this runs on reach only the module proxy.
#
# Vulnerabilities of the standard library depend on the Go toolchain that
# builds the binary, not on this repository: with LOGKEEPER_VULN_STDLIB=warn
# (CI, whose toolchain is the machine's) they are printed as a warning
# naming the Go release that fixes them, and only those in modules fail.
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
GOVULNCHECK_VERSION=v1.9.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}
say() { printf 'vuln: %s\n' "$*" >&2; }

mkdir -p "$TOOLS"
bin=$TOOLS/govulncheck-$GOVULNCHECK_VERSION
if [[ ! -x $bin ]]; then
	say "installing govulncheck $GOVULNCHECK_VERSION into $TOOLS"
	tmp=$(mktemp -d "$TOOLS/.govulncheck.XXXXXX")
	(cd "$tmp" && GOBIN=$tmp GOFLAGS= go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")
	mv -f "$tmp/govulncheck" "$bin"
	rm -rf "$tmp"
fi

db=${LOGKEEPER_VULNDB:-}
if [[ -z $db ]]; then
	# Outside any module, so that no go.mod or go.sum is touched.
	info=$(cd "$(mktemp -d)" && GOFLAGS= GO111MODULE=on go mod download -json golang.org/x/vulndb@latest)
	version=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
	[[ -n $version && -d $dir/data/osv ]] || {
		say "error: could not fetch golang.org/x/vulndb through the module proxy"
		exit 1
	}
	out=$TOOLS/vulndb-$version
	if [[ ! -f $out/index/modules.json ]]; then
		say "building the vulnerability database from golang.org/x/vulndb@$version"
		rm -rf "$out.tmp"
		(cd "$ROOT" && go run ./tools/vulndb -osv "$dir/data/osv" -out "$out.tmp") >&2
		rm -rf "$out"
		mv "$out.tmp" "$out"
	fi
	db=file://$out
fi
say "govulncheck $GOVULNCHECK_VERSION, $(go env GOVERSION), database $db"
cd "$ROOT"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$bin" -db "$db" ./... || rc=$?
case $rc in
0) exit 0 ;;
3) ;; # vulnerabilities found
*) exit "$rc" ;;
esac
"$bin" -db "$db" -format json ./... >"$out"
python3 - "$out" "${LOGKEEPER_VULN_STDLIB:-fail}" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, objs = json.JSONDecoder(), 0, []
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text):
        o, i = dec.raw_decode(text, i)
        objs.append(o)
called = {}
for o in objs:
    f = o.get("finding")
    if f and f["trace"] and f["trace"][0].get("function"):
        called[f["osv"]] = (f["trace"][0]["module"], f.get("fixed_version", ""))
std = sorted(k for k, (m, _) in called.items() if m == "stdlib")
mods = sorted(k for k, (m, _) in called.items() if m != "stdlib")
for k in std:
    print(f"vuln: {k} in the Go standard library, fixed in go{called[k][1].lstrip('v')}", file=sys.stderr)
for k in mods:
    print(f"vuln: {k} in module {called[k][0]}, fixed in {called[k][1]}", file=sys.stderr)
if mods:
    print(f"vuln: FAIL: {len(mods)} called vulnerabilities in modules: upgrade them (go get MODULE@FIXED)", file=sys.stderr)
    sys.exit(1)
if std and sys.argv[2] != "warn":
    print(f"vuln: FAIL: {len(std)} called vulnerabilities in the standard library of this toolchain: build with a fixed Go release", file=sys.stderr)
    sys.exit(1)
if std:
    fixed = max((called[k][1].lstrip("v") for k in std), key=lambda v: [int(x) for x in v.split(".")])
    print(f"vuln: WARNING: the toolchain's standard library has {len(std)} called vulnerabilities (fixed in go{fixed}); "
          f"no module vulnerability is called. Build releases with GOTOOLCHAIN=go{fixed}.", file=sys.stderr)
PY
