#!/usr/bin/env bash
# make bench-compare: logkeeper side by side with its peers, on the same
# test S3 server (versitygw on loopback) and the same data, in one run:
#
#   (a) one large file (1 GiB by default): `logkeeper export` vs. a plain
#       aws-sdk-go-v2 transfer-manager upload (8 MiB parts, 4 workers,
#       SHA-256 part checksums like logkeeper's) vs. `rclone copy` (same part
#       size and concurrency);
#   (b) 5,000 files of 4 KiB: `logkeeper export` vs. plain SDK PutObject
#       with 16 workers;
#   (c) `logkeeper verify` of that archive, fast and --deep, vs. downloading
#       every object with the SDK (16 workers);
#   (d) the peak RSS of every process, and of `logkeeper export` of 96
#       medium files (48 of 3 MiB, 48 of 7 MiB: single-part objects, the
#       size that stresses the buffer pool most).
#
# Every measurement runs ROUNDS times (default 3), alternating the tools.
# Prints the median and the best round of each, and the ratios of the
# medians against the targets of issue #5
# and writes the raw results (JSON lines) to $BENCH_OUT (default
# bench-results.jsonl in the current folder). Run it through
# scripts/testenv.sh run (make bench-compare does).
#
#   scripts/bench-compare.sh [MIB] [FILES]     defaults 1024 and 5000
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
mib=${1:-1024}
nfiles=${2:-5000}
rounds=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$PWD/bench-results.jsonl}
: "${LOGKEEPER_TEST_S3_ENDPOINT:?run through scripts/testenv.sh run}"
export AWS_ENDPOINT_URL_S3=$LOGKEEPER_TEST_S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$LOGKEEPER_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$LOGKEEPER_TEST_S3_SECRET_KEY
export AWS_REGION=${LOGKEEPER_TEST_REGION:-us-east-1}
say() { printf 'bench: %s\n' "$*" >&2; }

# rclone from Debian, installed if missing.
if ! command -v rclone >/dev/null; then
	say "installing rclone (Debian package)"
	if [[ $(id -u) == 0 ]]; then
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >&2
	else
		sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >&2
	fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[[ -x $root/bin/logkeeper ]] || (cd "$root" && make build >&2)
go build -o "$work/lkbench" "$root/tools/lkbench"
lk=$root/bin/logkeeper
bench=$work/lkbench
: >"$out"

say "writing a ${mib} MiB file of random bytes and $nfiles files of 4 KiB"
mkdir -p "$work/big" "$work/small" "$work/mixed"
head -c $((mib << 20)) /dev/urandom >"$work/big/big.bin"
"$bench" mkfiles -dir "$work/small" -n "$nfiles" -size 4096
"$bench" mkfiles -dir "$work/mixed/3m" -n 48 -size $((3 << 20))
"$bench" mkfiles -dir "$work/mixed/7m" -n 48 -size $((7 << 20))
bytes=$((mib << 20))
"$lk" keys generate --out "$work/key.pem" >/dev/null
bucket=lk-bench-$(date +%s)
"$bench" mkbucket -bucket "$bucket" >/dev/null

# config FILE PREFIX SRC writes a logkeeper configuration at default
# settings (8 MiB parts, 4 parts in flight, 8 files at once).
config() {
	cat >"$1" <<YAML
store:
  url: s3://$bucket/$2
  path_style: true
signing:
  key: file://$work/key.pem
streams:
  - name: bench
    source: {type: dir, path: $3}
YAML
}

# rclone, configured through the environment, without a config file.
export RCLONE_CONFIG_LK_TYPE=s3 RCLONE_CONFIG_LK_PROVIDER=Other RCLONE_CONFIG_LK_ENV_AUTH=false
export RCLONE_CONFIG_LK_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_LK_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_LK_ENDPOINT=$AWS_ENDPOINT_URL_S3 RCLONE_CONFIG_LK_REGION=$AWS_REGION RCLONE_CONFIG_LK_FORCE_PATH_STYLE=true
: >"$work/rclone.conf"

# measure ARGS: one measured run, after writing back what earlier runs left
# in the page cache (so that no run pays for another's writes).
measure() {
	sync
	"$bench" run "$@" 2>>"$work/bench.log" | tee -a "$out" >&2
}

for round in $(seq "$rounds"); do
	say "round $round/$rounds: ${mib} MiB file"
	config "$work/big$round.yaml" "big$round" "$work/big"
	# The three in a rotating order: the server slows down as it takes in
	# gigabytes, and no tool should always go first.
	for i in 0 1 2; do
		case $(((i + round) % 3)) in
		0) measure -bytes $bytes -label big-logkeeper -- "$lk" export -c "$work/big$round.yaml" --stream bench --log-level warn ;;
		1) measure -bytes $bytes -label big-sdk -- "$bench" sdkupload -bucket "$bucket" -key "sdk$round/big.bin" -file "$work/big/big.bin" -part-mib 8 -concurrency 4 ;;
		# versitygw ignores "Expect: 100-Continue" with a capital C, which
		# rclone 1.60 sends: without --expect-continue-timeout 0s it stalls
		# a second per part. AWS_CA_BUNDLE (set on these machines) breaks
		# its plain-http client.
		2) measure -bytes $bytes -label big-rclone -- env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" copy \
			--expect-continue-timeout 0s --s3-chunk-size 8M --s3-upload-concurrency 4 \
			"$work/big/big.bin" "lk:$bucket/rclone$round/" ;;
		esac
	done

	say "round $round/$rounds: $nfiles files of 4 KiB"
	config "$work/small$round.yaml" "small$round" "$work/small"
	measure -objects "$nfiles" -bytes $((nfiles * 4096)) -label small-logkeeper -- "$lk" export -c "$work/small$round.yaml" --stream bench --log-level warn
	measure -objects "$nfiles" -bytes $((nfiles * 4096)) -label small-sdk -- "$bench" sdkput -bucket "$bucket" -prefix "sdksmall$round" -dir "$work/small" -workers 16

	say "round $round/$rounds: 96 files of 3 and 7 MiB (peak RSS)"
	config "$work/mixed$round.yaml" "mixed$round" "$work/mixed"
	measure -objects 96 -bytes $((48 * (10 << 20))) -label mixed-logkeeper -- "$lk" export -c "$work/mixed$round.yaml" --stream bench --log-level warn
done
for round in $(seq "$rounds"); do
	say "round $round/$rounds: verify the $nfiles-file archive"
	measure -objects "$nfiles" -bytes $((nfiles * 4096)) -label verify-fast -- "$lk" verify -c "$work/small1.yaml" --stream bench
	measure -objects "$nfiles" -bytes $((nfiles * 4096)) -label verify-deep -- "$lk" verify -c "$work/small1.yaml" --stream bench --deep
	measure -objects "$nfiles" -bytes $((nfiles * 4096)) -label download-sdk -- "$bench" sdkget -bucket "$bucket" -prefix "small1/bench/objects/" -workers 16
done

python3 - "$out" "$mib" "$nfiles" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mib, nfiles = sys.argv[2], sys.argv[3]
import statistics
best = {}
def median(label, key):
    rs = [r for r in rows if r["label"] == label]
    bad = [r for r in rs if r["exit"] != 0]
    if bad:
        sys.exit(f"bench: {label} failed: {bad}")
    best[label] = max(r[key] for r in rs)
    return statistics.median(r[key] for r in rs), max(r["max_rss_mib"] for r in rs)
res = {}
for label, key in [("big-logkeeper", "mb_per_s"), ("big-sdk", "mb_per_s"), ("big-rclone", "mb_per_s"),
                   ("small-logkeeper", "objects_per_s"), ("small-sdk", "objects_per_s"),
                   ("verify-fast", "objects_per_s"), ("verify-deep", "objects_per_s"), ("download-sdk", "objects_per_s"),
                   ("mixed-logkeeper", "mb_per_s")]:
    res[label] = median(label, key)
def line(label, what, unit):
    v, rss = res[label]
    print(f"  {what:58s} {v:9.1f} {unit:10s} (best {best[label]:7.1f})  peak RSS {rss:4d} MiB")
def check(name, value, target, fmt="{:.2f}x"):
    ok = "ok  " if value >= target else "MISS"
    print(f"  [{ok}] {name:50s} " + fmt.format(value) + "   (target >= " + fmt.format(target) + ")")
print(f"\n(a) one {mib} MiB file, median of the rounds, same server:")
line("big-logkeeper", "logkeeper export (hash, part checksums, manifest, signature)", "MB/s")
line("big-sdk", "SDK transfer manager (8 MiB parts, 4 workers, SHA-256)", "MB/s")
line("big-rclone", "rclone copy (8 MiB parts, 4 workers)", "MB/s")
print(f"(b) {nfiles} files of 4 KiB:")
line("small-logkeeper", "logkeeper export (default settings)", "objects/s")
line("small-sdk", "SDK PutObject, 16 workers", "objects/s")
print(f"(c) the {nfiles}-object archive:")
line("verify-fast", "logkeeper verify (fast)", "objects/s")
line("verify-deep", "logkeeper verify --deep", "objects/s")
line("download-sdk", "SDK GetObject of every object, 16 workers", "objects/s")
print("(d) 96 files of 3 and 7 MiB:")
line("mixed-logkeeper", "logkeeper export (default settings)", "MB/s")
print("ratios of the medians:")
check("large file: logkeeper / SDK", res["big-logkeeper"][0] / res["big-sdk"][0], 0.95)
check("large file: logkeeper / rclone", res["big-logkeeper"][0] / res["big-rclone"][0], 1.3)
check("small files: logkeeper / SDK 16 workers", res["small-logkeeper"][0] / res["small-sdk"][0], 0.9)
check("fast verify objects/s", res["verify-fast"][0], 2000, "{:.0f}")
check("deep verify / SDK download", res["verify-deep"][0] / res["download-sdk"][0], 0.9)
lkrss = max(res[l][1] for l in ("big-logkeeper", "small-logkeeper", "mixed-logkeeper", "verify-fast", "verify-deep"))
check("logkeeper peak RSS headroom (128 MiB / peak)", 128 / lkrss, 1.0)
PY
say "raw results in $out"
