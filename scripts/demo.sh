#!/usr/bin/env bash
# The embedded demo: generate a signing key, archive the bundled sample logs
# into a local-filesystem store, verify the archive, then show that a
# one-byte change is caught. Needs no server. Everything goes under .demo/.
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/logkeeper"
demo="$root/.demo"
rm -rf "$demo"
mkdir -p "$demo"
cp -r "$root/examples/sample-logs" "$demo/logs"

echo "== 1. a signing key (Ed25519, private key mode 0600)"
"$bin" keys generate --out "$demo/signing.pem"

cat > "$demo/logkeeper.yaml" <<YAML
store:
  url: file://$demo/archive
signing:
  key: file://$demo/signing.pem
streams:
  - name: edge-logs
    source:
      type: dir
      path: $demo/logs
YAML

echo
echo "== 2. export the sample logs (run 1), then again with nothing new (run 2 attests absence)"
"$bin" export -c "$demo/logkeeper.yaml" --stream edge-logs --reason "demo" --log-level warn
"$bin" export -c "$demo/logkeeper.yaml" --stream edge-logs --reason "demo" --log-level warn

echo
echo "== 3. verify the chain, deep (every object re-hashed)"
"$bin" verify -c "$demo/logkeeper.yaml" --stream edge-logs --deep

echo
echo "== 4. flip one byte of an archived log and verify again (must fail, exit 1)"
obj=$(find "$demo/archive/edge-logs/objects" -name sip.log | head -1)
printf 'X' | dd of="$obj" bs=1 seek=0 conv=notrunc status=none
set +e
"$bin" verify -c "$demo/logkeeper.yaml" --stream edge-logs
rc=$?
set -e
if [ "$rc" -ne 1 ]; then
  echo "demo: verify should have exited 1 after tampering, got $rc" >&2
  exit 1
fi
echo
echo "demo ok: archive in $demo/archive, first manifest:"
echo "  $demo/archive/edge-logs/manifests/00000000000000000001.json"
