#!/usr/bin/env bash
# make bench: a full-custody `logkeeper export` of one large file (1 GiB by
# default) to the test S3 server, side by side with a plain SDK
# transfer-manager upload of the same file to the same server, alternating,
# two rounds each. Prints MB/s, peak RSS and the ratio. Run it through
# scripts/testenv.sh run (make bench does).
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
mib=${1:-1024}
root=$(cd "$(dirname "$0")/.." && pwd)
: "${LOGKEEPER_TEST_S3_ENDPOINT:?run through scripts/testenv.sh run}"
export AWS_ENDPOINT_URL_S3=$LOGKEEPER_TEST_S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$LOGKEEPER_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$LOGKEEPER_TEST_S3_SECRET_KEY
export AWS_REGION=${LOGKEEPER_TEST_REGION:-us-east-1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/lkbench" "$root/tools/lkbench"
mkdir -p "$work/src"
echo "bench: writing a ${mib} MiB file of random bytes" >&2
head -c $((mib << 20)) /dev/urandom >"$work/src/big.bin"
bytes=$((mib << 20))
"$root/bin/logkeeper" keys generate --out "$work/key.pem" >/dev/null
bucket=lk-bench-$(date +%s)
"$work/lkbench" mkbucket -bucket "$bucket" >/dev/null

results=$work/results.jsonl
for round in 1 2; do
	cat >"$work/lk.yaml" <<YAML
store:
  url: s3://$bucket/round$round
  path_style: true
signing:
  key: file://$work/key.pem
streams:
  - name: bench
    source: {type: dir, path: $work/src}
YAML
	"$work/lkbench" run -bytes $bytes -label logkeeper -- "$root/bin/logkeeper" export -c "$work/lk.yaml" --stream bench --log-level warn | tee -a "$results"
	"$work/lkbench" run -bytes $bytes -label sdk -- "$work/lkbench" sdkupload -bucket "$bucket" -key "sdk/round$round" -file "$work/src/big.bin" -part-mib 8 -concurrency 4 | tee -a "$results"
done
python3 - "$results" "$mib" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def best(label):
    rs = [r for r in rows if r["label"] == label]
    assert all(r["exit"] == 0 for r in rs), rs
    return max(r["mb_per_s"] for r in rs), max(r["max_rss_mib"] for r in rs)
lk, lkrss = best("logkeeper")
sdk, sdkrss = best("sdk")
print(f"\n{sys.argv[2]} MiB, best of 2 rounds, same server, same file (8 MiB parts, 4 in flight, SHA-256 part checksums on both):")
print(f"  logkeeper export (hash, part checksums, manifest, signature): {lk:7.1f} MB/s  peak RSS {lkrss} MiB")
print(f"  plain SDK transfer manager upload:                           {sdk:7.1f} MB/s  peak RSS {sdkrss} MiB")
print(f"  ratio logkeeper/sdk: {lk/sdk:.2f}x   (target >= 0.90x; RSS target < 128 MiB)")
PY
