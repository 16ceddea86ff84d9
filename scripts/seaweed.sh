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
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
# The helpers shared with the versitygw/local-kms environment (port_free,
# http_status, log_tail, start_localkms, stop_pid, cmd_run ...); this
# script's own settings and commands below take the place of its.
# shellcheck source=scripts/testenv.sh
. "$(dirname "${BASH_SOURCE[0]}")/testenv.sh"
RUN_NAME=seaweed

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

cmd_stop() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	[[ -d $dir ]] || return 0
	stop_pid weed "$dir/weed.pid" 'weed-*'
	stop_pid localkms "$dir/localkms.pid" 'localkms-*'
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
