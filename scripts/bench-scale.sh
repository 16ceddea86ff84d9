#!/usr/bin/env bash
# make bench-scale: logkeeper with many tiny files on the file store (issue
# #14), side by side with a durable per-file copy of the same files (write,
# fsync, rename; `lkbench copypeer`, 16 workers like the export) on the same
# disk. For each file count N:
#
#   peer      copy N files durably                      time, files/s
#   export    first run of `logkeeper export`            time, files/s, peak RSS
#   manifest  the largest JSON object written            bytes
#   verify    `logkeeper verify` of the archive          time, peak RSS
#   incr      one new file, then `logkeeper export`      time, peak RSS
#
# and prints the ratios (export / peer files/s, RSS against 128 MiB,
# largest manifest against 16 MiB). With BENCH_S3=1 (run through
# scripts/testenv.sh run) it also exports the same files to the test S3
# server next to `lkbench sdkput` with 16 workers (plain, and asking the
# server for the same work as logkeeper's PutObject: -same-work). Large runs are never in
# CI: they take minutes and gigabytes.
#
#   scripts/bench-scale.sh [N...]        default 10000 50000 120000
#   BENCH_SIZE=512 BENCH_OUT=scale.jsonl BENCH_DIR=/var/tmp
#   BENCH_FS=0 runs the S3 rows only (with BENCH_S3=1).
#   BENCH_S3_FILES="200000" runs the S3 rows at these counts instead of
#   N... (with BENCH_S3=1; make bench-compare: a million files on the file
#   store, 200,000 on versitygw).
#   BENCH_PEER=0 skips the peer (a million files: its ratio is measured
#   at smaller N), BENCH_PEER_LAST=1 measures it after the export instead
#   of before (this project's virtual disks run faster for the first
#   minutes after a pause: run both orders), BENCH_VERIFY=0 skips verify,
#   BENCH_KEEP=1 leaves the files for a look afterwards.
#   BENCH_WARMUP=SECONDS first copies 20,000 files durably over and over
#   for that long, unmeasured, so that the measured rows start on a disk
#   that has used up the burst it gives after a pause (on this project's
#   virtual disks the first minutes run 2 to 2.5x faster, which favoured
#   whichever of the peer and the export went first).
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(10000 50000 120000)
size=${BENCH_SIZE:-512}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$PWD/bench-scale.jsonl}
say() { printf 'bench-scale: %s\n' "$*" >&2; }

work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/lk-scale.XXXXXX")
[[ ${BENCH_KEEP:-0} == 1 ]] || trap 'rm -rf "$work"' EXIT
[[ -x $root/bin/logkeeper ]] || (cd "$root" && make build >&2)
go build -o "$work/lkbench" "$root/tools/lkbench"
lk=$root/bin/logkeeper
bench=$work/lkbench
"$lk" keys generate --out "$work/key.pem" >/dev/null
: >"$out"

if [[ ${BENCH_S3:-0} == 1 ]]; then
	: "${LOGKEEPER_TEST_S3_ENDPOINT:?BENCH_S3=1 runs through scripts/testenv.sh run}"
	export AWS_ENDPOINT_URL_S3=$LOGKEEPER_TEST_S3_ENDPOINT
	export AWS_ACCESS_KEY_ID=$LOGKEEPER_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$LOGKEEPER_TEST_S3_SECRET_KEY
	export AWS_REGION=${LOGKEEPER_TEST_REGION:-us-east-1}
	bucket=lk-scale-$(date +%s)
	"$bench" mkbucket -bucket "$bucket" >/dev/null
fi

# config FILE STORE-URL SRC
config() {
	cat >"$1" <<YAML
store:
  url: $2
  path_style: true
signing:
  key: file://$work/key.pem
streams:
  - name: bench
    source: {type: dir, path: $3}
YAML
}

# measure ARGS: one measured run, after writing back what earlier runs left
# in the page cache (so that no run pays for another's writes).
measure() {
	sync
	"$bench" run "$@" 2>>"$work/bench.log" | tee -a "$out" >&2
}

# largest FOLDER LABEL N: the size of the largest file under FOLDER, as a
# result line.
largest() {
	local bytes
	bytes=$(find "$1" -type f -printf '%s\n' | sort -n | tail -1)
	printf '{"label":"%s","n":%s,"bytes":%s}\n' "$2" "$3" "${bytes:-0}" | tee -a "$out" >&2
}

s3counts=(${BENCH_S3_FILES:-${counts[*]}})
[[ ${BENCH_FS:-1} != 0 ]] || counts=()
[[ ${BENCH_S3:-0} == 1 ]] || s3counts=()
# has N LIST...: whether N is one of LIST.
has() { local n=$1 x; shift; for x in "$@"; do [[ $x == "$n" ]] && return 0; done; return 1; }
for n in $(printf '%s\n' "${counts[@]}" "${s3counts[@]}" | sort -nu); do
	say "$n files of $size bytes"
	src=$work/src$n
	"$bench" mkfiles -dir "$src" -n "$n" -size "$size"
	bytes=$((n * size))
	if [[ ${BENCH_WARMUP:-0} -gt 0 ]]; then
		say "warm-up: durable copies for ${BENCH_WARMUP} s"
		[[ -d $work/warm ]] || "$bench" mkfiles -dir "$work/warm" -n 20000 -size "$size"
		until_=$((SECONDS + BENCH_WARMUP))
		while ((SECONDS < until_)); do
			"$bench" copypeer -src "$work/warm" -dst "$work/warmcopy" -workers 16 >/dev/null
			rm -rf "$work/warmcopy"
		done
	fi
	peer() {
		measure -objects "$n" -bytes $bytes -label "peer-$n" -- "$bench" copypeer -src "$src" -dst "$work/peer$n" -workers 16
		rm -rf "$work/peer$n"
	}
	if has "$n" "${counts[@]}" && [[ ${BENCH_PEER:-1} != 0 && ${BENCH_PEER_LAST:-0} != 1 ]]; then
		peer
	fi
	if has "$n" "${counts[@]}"; then
		config "$work/fs$n.yaml" "file://$work/store$n" "$src"
		measure -objects "$n" -bytes $bytes -label "export-$n" -- "$lk" export -c "$work/fs$n.yaml" --stream bench --log-level warn
		largest "$work/store$n/bench/manifests" "manifest-$n" "$n"
		if [[ ${BENCH_VERIFY:-1} != 0 ]]; then
			measure -objects "$n" -bytes $bytes -label "verify-$n" -- "$lk" verify -c "$work/fs$n.yaml" --stream bench
		fi
		"$bench" addfile -dir "$src" -name "new-$n.log" -size "$size"
		measure -objects 1 -label "incr-$n" -- "$lk" export -c "$work/fs$n.yaml" --stream bench --log-level warn
		[[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$work/store$n"
	fi
	if has "$n" "${counts[@]}" && [[ ${BENCH_PEER:-1} != 0 && ${BENCH_PEER_LAST:-0} == 1 ]]; then
		peer
	fi
	if has "$n" "${s3counts[@]}"; then
		config "$work/s3$n.yaml" "s3://$bucket/lk$n" "$src"
		measure -objects "$n" -bytes $bytes -label "s3export-$n" -- "$lk" export -c "$work/s3$n.yaml" --stream bench --log-level warn
		"$bench" largest -bucket "$bucket" -prefix "lk$n/bench/manifests/" -label "s3manifest-$n" -n "$n" | tee -a "$out" >&2
		measure -objects "$n" -bytes $bytes -label "s3verify-$n" -- "$lk" verify -c "$work/s3$n.yaml" --stream bench
		measure -objects "$n" -bytes $bytes -label "s3sdk-$n" -- "$bench" sdkput -bucket "$bucket" -prefix "sdk$n" -dir "$src" -workers 16
		measure -objects "$n" -bytes $bytes -label "s3same-$n" -- "$bench" sdkput -bucket "$bucket" -prefix "same$n" -dir "$src" -workers 16 -same-work
	fi
	[[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$src"
done

python3 - "$out" <<'PY'
import json, sys
rows = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("exit", 0) != 0:
        sys.exit(f"bench-scale: {r['label']} failed (exit {r['exit']}): see the log")
    rows[r["label"]] = r
ns = sorted({int(k.split("-")[1]) for k in rows if "-" in k})
print(f"\n{'files':>9} {'peer f/s':>9} {'export f/s':>10} {'ratio':>6} {'RSS MiB':>8} {'manifest MiB':>12} {'verify s':>9} {'vRSS':>5} {'incr s':>7} {'iRSS':>5}")
worst = {"ratio": 9e9, "rss": 0, "manifest": 0}
for n in ns:
    p, e, m, v, i = (rows.get(f"{k}-{n}") for k in ("peer", "export", "manifest", "verify", "incr"))
    v = v or {"seconds": float("nan"), "max_rss_mib": 0}
    if f"s3export-{n}" in rows:
        s, k, w = rows[f"s3export-{n}"], rows[f"s3sdk-{n}"], rows[f"s3same-{n}"]
        sm, sv = rows[f"s3manifest-{n}"], rows[f"s3verify-{n}"]
        print(f"{n:9d} S3: export {s['objects_per_s']:.0f} f/s, SDK PutObject x16 {k['objects_per_s']:.0f} f/s: {s['objects_per_s']/k['objects_per_s']:.2f}x, with the same work asked of the server {w['objects_per_s']:.0f} f/s: {s['objects_per_s']/w['objects_per_s']:.2f}x, export RSS {s['max_rss_mib']} MiB, largest manifest {sm['bytes']/2**20:.1f} MiB, verify {sv['seconds']:.1f} s RSS {sv['max_rss_mib']} MiB")
        worst["s3"] = min(worst.get("s3", 9e9), s["objects_per_s"] / k["objects_per_s"])
        worst["rss"] = max(worst["rss"], s["max_rss_mib"], sv["max_rss_mib"])
        worst["manifest"] = max(worst["manifest"], sm["bytes"])
    if e is None:
        continue
    ratio = e["objects_per_s"] / p["objects_per_s"] if p else float("nan")
    if p:
        worst["ratio"] = min(worst["ratio"], ratio)
    p = p or {"objects_per_s": float("nan")}
    worst["rss"] = max(worst["rss"], e["max_rss_mib"], v["max_rss_mib"], i["max_rss_mib"])
    worst["manifest"] = max(worst["manifest"], m["bytes"])
    print(f"{n:9d} {p['objects_per_s']:9.0f} {e['objects_per_s']:10.0f} {ratio:6.2f} {e['max_rss_mib']:8d} {m['bytes']/2**20:12.1f} {v['seconds']:9.1f} {v['max_rss_mib']:5d} {i['seconds']:7.1f} {i['max_rss_mib']:5d}")
def check(name, ok, value):
    print(f"  [{'ok  ' if ok else 'MISS'}] {name:52s} {value}")
print("targets (issue #14):")
if worst["ratio"] < 9e9:
    check("file store export / durable copy >= 0.8x", worst["ratio"] >= 0.8, f"{worst['ratio']:.2f}x")
else:
    print("  [n/a ] file store export / durable copy: no peer run (BENCH_PEER=0)")
if "s3" in worst:
    check("S3 export / SDK PutObject x16 >= 1.0x", worst["s3"] >= 1.0, f"{worst['s3']:.2f}x")
check("peak RSS of export, verify, incremental < 128 MiB", worst["rss"] < 128, f"{worst['rss']} MiB")
check("largest manifest <= 16 MiB", worst["manifest"] <= 16 << 20, f"{worst['manifest']/2**20:.1f} MiB")
PY
say "raw results in $out"
