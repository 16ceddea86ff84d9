#!/usr/bin/env bash
# seaweed.sh installs and runs SeaweedFS with local-kms as its KMS, for the
# one test that needs real SSE-KMS (versitygw accepts the SSE headers and
# ignores them). Everything binds to 127.0.0.1.
#
#   scripts/seaweed.sh install          build weed (4-6 min the first time) and
#                                       local-kms into the tools cache
#   scripts/seaweed.sh start DIR        start local-kms and `weed mini`; write DIR/env
#   scripts/seaweed.sh stop DIR         stop both (already stopped is fine)
#   scripts/seaweed.sh run -- CMD ...   install, start in a temporary folder, run
#                                       CMD with LOGKEEPER_TEST_SEAWEED_* and
#                                       LOGKEEPER_TEST_KMS_ENDPOINT set, stop,
#                                       exit with CMD's code
#
# The tools cache is ${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}.
# `weed mini` opens about 14 loopback ports of its own (master 9333, volume
# 8080, filer 8888, ...): run one instance at a time on a machine.
# LOGKEEPER_SEAWEED_TIMEOUT (seconds, default 90) bounds the wait for it.
set -euo pipefail

# The SeaweedFS version: a pseudo-version of its Go module. `go install`
# refuses it (its go.mod has a replace directive), so the module is
# downloaded and built in a copy.
SEAWEED_MODULE=github.com/seaweedfs/seaweedfs
SEAWEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
REGION=us-east-1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}
TIMEOUT=${LOGKEEPER_SEAWEED_TIMEOUT:-90}
WEED=$TOOLS/weed-$SEAWEED_VERSION

say() { printf 'seaweed: %s\n' "$*" >&2; }
die() {
	printf 'seaweed: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

alive() { kill -0 "$1" 2>/dev/null; }

cmd_install() {
	command -v go >/dev/null || die "go is not on PATH"
	mkdir -p "$TOOLS"
	# local-kms (and versitygw, both cached after the first time).
	"$ROOT/scripts/testenv.sh" install
	if [[ -x $WEED ]]; then
		say "weed $SEAWEED_VERSION: cached at $WEED"
		return 0
	fi
	say "weed $SEAWEED_VERSION: downloading the module"
	local dir tmp
	# Outside any module, so that no go.mod or go.sum is touched.
	dir=$(cd "$(mktemp -d)" && GOFLAGS= GO111MODULE=on go mod download -json "$SEAWEED_MODULE@$SEAWEED_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -n $dir && -d $dir ]] || die "go mod download $SEAWEED_MODULE@$SEAWEED_VERSION gave no folder"
	tmp=$(mktemp -d "$TOOLS/.weed.XXXXXX")
	# The module cache is read-only: build in a writable copy.
	cp -r "$dir/." "$tmp/src"
	chmod -R u+w "$tmp/src"
	say "weed $SEAWEED_VERSION: go build ./weed (4-6 minutes on 2 cores)"
	local start=$SECONDS
	if ! (cd "$tmp/src" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -o "$tmp/weed" ./weed); then
		rm -rf "$tmp"
		die "go build weed failed"
	fi
	mv -f "$tmp/weed" "$WEED"
	rm -rf "$tmp"
	say "weed $SEAWEED_VERSION: built $WEED in $((SECONDS - start)) s"
}

rand_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F'
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# http_status HOST:PORT REQUEST prints the status of a raw HTTP/1.0 exchange.
http_status() {
	local hostport=$1 request=$2
	(
		exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 0
		printf '%b' "$request" >&3
		local line
		IFS= read -r -t 5 line <&3 || exit 0
		line=${line%$'\r'}
		printf '%s\n' "$(cut -d' ' -f2 <<<"$line")"
	) 2>/dev/null || true
}

log_tail() {
	if [[ -s $1 ]]; then
		printf -- '--- last lines of %s ---\n' "$1" >&2
		tail -n 30 "$1" >&2
		printf -- '---\n' >&2
	fi
}

# start_localkms DIR prints the address local-kms bound once it answers.
start_localkms() {
	local dir=$1 bin out=$dir/localkms.out log=$dir/localkms.log
	bin=$(ls -t "$TOOLS"/localkms-* 2>/dev/null | grep -v -- '-test$' | head -n1)
	[[ -x $bin ]] || die "local-kms missing in $TOOLS: run '$0 install'"
	: >"$out"
	"$bin" -addr 127.0.0.1:0 -data "$dir/kms" -region "$REGION" >"$out" 2>"$log" </dev/null &
	local pid=$! addr="" code deadline=$((SECONDS + 30))
	echo "$pid" >"$dir/localkms.pid"
	while alive "$pid" && ((SECONDS < deadline)); do
		if [[ -z $addr ]] && ! IFS= read -r addr 2>/dev/null <"$out"; then
			addr=""
		fi
		if [[ $addr == 127.0.0.1:* ]]; then
			code=$(http_status "$addr" "POST / HTTP/1.0\r\nHost: $addr\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
			if [[ $code == 200 ]]; then
				printf '%s\n' "$addr"
				return 0
			fi
		fi
		sleep 0.1
	done
	log_tail "$log"
	die "local-kms did not start"
}

cmd_start() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	[[ -x $WEED ]] || die "$WEED missing: run '$0 install'"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [[ -f $dir/weed.pid ]] && alive "$(cat "$dir/weed.pid")"; then
		die "$dir already has a running weed: run '$0 stop $dir' first"
	fi
	for p in 9333 8080 8888 18888 19333; do
		port_free "$p" || die "port 127.0.0.1:$p is taken: is another weed running? (weed mini uses fixed ports)"
	done
	mkdir -p "$dir/kms" "$dir/weed"
	local access secret kmsaddr s3port
	access=LK$(rand_hex 9)
	secret=$(rand_hex 20)
	trap 'cmd_stop "$dir" >/dev/null 2>&1' ERR
	kmsaddr=$(start_localkms "$dir")
	umask 077
	cat >"$dir/s3.json" <<EOF
{
  "identities": [
    {"name": "logkeeper", "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
     "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
  ],
  "kms": {
    "default_provider": "lkms",
    "providers": {
      "lkms": {"type": "aws", "region": "$REGION", "endpoint": "http://$kmsaddr",
               "access_key": "x", "secret_key": "x", "cache_enabled": false}
    }
  }
}
EOF
	local attempt pid deadline code
	for attempt in 1 2 3; do
		s3port=$((20000 + RANDOM % 40000))
		port_free "$s3port" || continue
		"$WEED" mini -dir="$dir/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$s3port" \
			-s3.config="$dir/s3.json" -webdav=false -admin.ui=false >"$dir/weed.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/weed.pid"
		deadline=$((SECONDS + TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do
			# An anonymous ListBuckets answers 403 once the gateway is up.
			code=$(http_status "127.0.0.1:$s3port" "GET / HTTP/1.0\r\nHost: 127.0.0.1:$s3port\r\n\r\n")
			if [[ -n $code && $code != 5* ]]; then
				break 2
			fi
			sleep 0.5
		done
		if alive "$pid"; then
			kill "$pid" 2>/dev/null || true
			log_tail "$dir/weed.log"
			die "weed S3 on 127.0.0.1:$s3port did not answer within ${TIMEOUT}s"
		fi
		say "weed exited at start (attempt $attempt)"
		log_tail "$dir/weed.log"
	done
	alive "$(cat "$dir/weed.pid")" || die "weed would not start (see $dir/weed.log)"
	trap - ERR
	cat >"$dir/env.tmp" <<EOF
export LOGKEEPER_TEST_SEAWEED_ENDPOINT=http://127.0.0.1:$s3port
export LOGKEEPER_TEST_SEAWEED_ACCESS_KEY=$access
export LOGKEEPER_TEST_SEAWEED_SECRET_KEY=$secret
export LOGKEEPER_TEST_SEAWEED_DATA=$dir/weed
export LOGKEEPER_TEST_KMS_ENDPOINT=http://$kmsaddr
export LOGKEEPER_TEST_REGION=$REGION
EOF
	mv -f "$dir/env.tmp" "$dir/env"
	say "weed S3 on http://127.0.0.1:$s3port (pid $(cat "$dir/weed.pid"), log $dir/weed.log, data $dir/weed)"
	say "local-kms on http://$kmsaddr (pid $(cat "$dir/localkms.pid"))"
}

# stop_pid NAME PIDFILE EXE stops the process if it is still ours.
stop_pid() {
	local name=$1 pidfile=$2 exe=$3 pid
	[[ -f $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
		local cmd=""
		[[ -r /proc/$pid/cmdline ]] && cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f1)
		# shellcheck disable=SC2053 # EXE is a pattern
		if [[ -n $cmd && $(basename "$cmd") != $exe ]]; then
			say "$name: pid $pid is now '$cmd', not ours; leaving it"
		else
			kill "$pid" 2>/dev/null || true
			local i
			for i in $(seq 100); do
				alive "$pid" || break
				sleep 0.1
			done
			if alive "$pid"; then
				say "$name: pid $pid ignored SIGTERM; sending SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			fi
			say "$name: stopped (pid $pid)"
		fi
	fi
	rm -f "$pidfile"
}

cmd_stop() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	[[ -d $dir ]] || return 0
	stop_pid weed "$dir/weed.pid" 'weed-*'
	stop_pid localkms "$dir/localkms.pid" 'localkms-*'
}

cmd_run() {
	[[ ${1:-} == -- ]] && shift
	(($# > 0)) || usage
	cmd_install
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/logkeeper-seaweed.XXXXXX")
	# shellcheck disable=SC2064 # expand dir now
	trap "cmd_stop '$dir'; rm -rf '$dir'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	cmd_start "$dir"
	local rc=0
	(
		# shellcheck disable=SC1091
		. "$dir/env"
		exec "$@"
	) || rc=$?
	exit "$rc"
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
run)
	shift
	cmd_run "$@"
	;;
*) usage ;;
esac
