#!/usr/bin/env bash
# make bench-startup: the start-up of a one-shot `logkeeper export` (a
# CronJob, `run --once`) on a stream of 10,000 manifests next to one of 10,
# on the test S3 server (issue 12, item 3). Run through scripts/testenv.sh
# run. `lkbench mkchain` writes the manifests (real, signed, chained) and
# the start-up state straight to the bucket; each measured run then
# archives one new small file, as an hourly run would. For each chain:
#
#   warm        the first export (builds the local archived-file index)
#   run         BENCH_RUNS measured exports, alternating small and large
#   nostate     the large chain's state deleted before the run: the whole
#               chain is read, as before the state existed
#   memory      runs without a state folder (the chain held in memory),
#               after a first one that reads the chain (the state written
#               through the index holds no file list)
#
# and prints the medians and the ratio large / small (target: <= 1.5x).
#
#   scripts/bench-startup.sh [LARGE [SMALL]]     default 10000 10
#   BENCH_RUNS=5 BENCH_OUT=startup.jsonl
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
large=${1:-10000}
small=${2:-10}
runs=${BENCH_RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$PWD/bench-startup.jsonl}
say() { printf 'bench-startup: %s\n' "$*" >&2; }

: "${LOGKEEPER_TEST_S3_ENDPOINT:?run through scripts/testenv.sh run}"
export AWS_ENDPOINT_URL_S3=$LOGKEEPER_TEST_S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$LOGKEEPER_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$LOGKEEPER_TEST_S3_SECRET_KEY
export AWS_REGION=${LOGKEEPER_TEST_REGION:-us-east-1}

work=$(mktemp -d "${TMPDIR:-/tmp}/lk-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
[[ -x $root/bin/logkeeper ]] || (cd "$root" && make build >&2)
go build -o "$work/lkbench" "$root/tools/lkbench"
lk=$root/bin/logkeeper
bench=$work/lkbench
"$lk" keys generate --out "$work/key.pem" >/dev/null
bucket=lk-startup-$(date +%s)
"$bench" mkbucket -bucket "$bucket" >/dev/null
mkdir -p "$work/src-small" "$work/src-large"
cat >"$work/cfg.yaml" <<YAML
store:
  url: s3://$bucket/archive
  path_style: true
signing:
  key: file://$work/key.pem
streams:
  - name: small
    source: {type: dir, path: $work/src-small}
  - name: large
    source: {type: dir, path: $work/src-large}
YAML
: >"$out"

say "writing $large and $small manifests"
"$bench" mkchain -config "$work/cfg.yaml" -stream large -n "$large"
"$bench" mkchain -config "$work/cfg.yaml" -stream small -n "$small"

i=0
# export LABEL STREAM [env...]: one measured export of one new file.
export_one() {
	local label=$1 stream=$2
	shift 2
	i=$((i + 1))
	"$bench" addfile -dir "$work/src-$stream" -name "f$i.log" -size 512
	env "$@" "$bench" run -objects 1 -label "$label" -- "$lk" export -c "$work/cfg.yaml" --stream "$stream" --log-level warn \
		2>>"$work/bench.log" | tee -a "$out" >&2
}
state=(LOGKEEPER_STATE_DIR="$work/state")
# No state folder: no LOGKEEPER_STATE_DIR and no user cache folder.
memory=(-u XDG_CACHE_HOME LOGKEEPER_STATE_DIR= HOME=)

export_one warm-small small "${state[@]}"
export_one warm-large large "${state[@]}"
for _ in $(seq "$runs"); do
	export_one run-small small "${state[@]}"
	export_one run-large large "${state[@]}"
done
# A state written through the index holds no file list: the first run held
# in memory reads the chain once and writes one that does.
export_one warm-memory-small small "${memory[@]}"
export_one warm-memory-large large "${memory[@]}"
for _ in $(seq "$runs"); do
	export_one memory-small small "${memory[@]}"
	export_one memory-large large "${memory[@]}"
done
"$bench" rmobject -bucket "$bucket" -key "archive/_checkpoints/large/state.json"
export_one nostate-large large "${state[@]}"
"$bench" rmobject -bucket "$bucket" -key "archive/_checkpoints/large/state.json"
export_one nostate-memory-large large "${memory[@]}"
if grep -q "start-up state not used" "$work/bench.log"; then
	say "a state was not used:"
	grep "start-up state not used" "$work/bench.log" >&2
fi

python3 - "$out" "$large" "$small" <<'PY'
import json, statistics, sys
rows = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("exit", 0) != 0:
        sys.exit(f"bench-startup: {r['label']} failed (exit {r['exit']}): see the log")
    rows.setdefault(r["label"], []).append(r)
large, small = sys.argv[2], sys.argv[3]
def med(label):
    return statistics.median(r["seconds"] for r in rows[label])
def rss(label):
    return max(r["max_rss_mib"] for r in rows[label])
print(f"\n{'export of one new file':34s} {small+' manifests':>14s} {large+' manifests':>16s} {'ratio':>6s}")
for name, s, l in (("first run (builds the local index)", "warm-small", "warm-large"),
                   ("first run without a state folder", "warm-memory-small", "warm-memory-large"),
                   ("with a state folder (median)", "run-small", "run-large"),
                   ("without a state folder (median)", "memory-small", "memory-large")):
    print(f"{name:34s} {med(s):12.3f} s {med(l):14.3f} s {med(l)/med(s):5.2f}x   RSS {rss(s)}/{rss(l)} MiB")
print(f"{'state deleted, state folder':34s} {'':14s} {med('nostate-large'):14.3f} s {med('nostate-large')/med('run-small'):5.2f}x")
print(f"{'state deleted, no state folder':34s} {'':14s} {med('nostate-memory-large'):14.3f} s {med('nostate-memory-large')/med('memory-small'):5.2f}x")
worst = max(med("run-large")/med("run-small"), med("memory-large")/med("memory-small"))
print(f"  [{'ok  ' if worst <= 1.5 else 'MISS'}] start-up on {large} manifests within 1.5x of {small}: {worst:.2f}x")
PY
say "raw results in $out"
