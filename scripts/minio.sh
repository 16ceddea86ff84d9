#!/usr/bin/env bash
# minio.sh installs and runs MinIO with its built-in KMS, the S3 server on
# which logkeeper's S3 tests show real SSE-KMS (with the encryption context,
# single-part and multipart alike), Object Lock and legal holds; local-kms
# runs beside it for the tests' signing keys. Everything binds to 127.0.0.1.
# MinIO is AGPL-3.0: a test tool built into the tools cache, never shipped.
#
#   scripts/minio.sh install          build minio (a few minutes the first
#                                     time) and local-kms into the tools cache
#   scripts/minio.sh start DIR        start local-kms and minio; write DIR/env
#   scripts/minio.sh stop DIR         stop both (already stopped is fine)
#   scripts/minio.sh run -- CMD ...   install, start in a temporary folder, run
#                                     CMD with LOGKEEPER_TEST_* pointing at
#                                     MinIO, stop, exit with CMD's code
#
# The tools cache is ${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}.
# LOGKEEPER_MINIO_TIMEOUT (seconds, default 60) bounds the wait for it.
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
# The helpers shared with the versitygw/local-kms environment (port_free,
# http_status, log_tail, start_localkms, stop_pid, cmd_run ...); this
# script's own settings and commands below take the place of its.
# shellcheck source=scripts/testenv.sh
. "$(dirname "${BASH_SOURCE[0]}")/testenv.sh"
RUN_NAME=minio

# A pseudo-version of MinIO's Go module (it publishes no semver tags).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# The name of the key MinIO's built-in KMS encrypts under; the key itself is
# random per start.
MINIO_KMS_KEY=lk-key
REGION=us-east-1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}
TIMEOUT=${LOGKEEPER_MINIO_TIMEOUT:-60}
MINIO=$TOOLS/minio

say() { printf 'minio: %s\n' "$*" >&2; }
die() {
	printf 'minio: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd_install() {
	command -v go >/dev/null || die "go is not on PATH"
	mkdir -p "$TOOLS"
	# local-kms (and versitygw, both cached after the first time).
	"$ROOT/scripts/testenv.sh" install
	if [[ -x $MINIO ]] && go version -m "$MINIO" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+$MINIO_MODULE[[:space:]]+$MINIO_VERSION[[:space:]]"; then
		say "minio $MINIO_VERSION: cached at $MINIO"
		return 0
	fi
	say "minio $MINIO_VERSION: go install into $TOOLS (a few minutes the first time)"
	local tmp start=$SECONDS
	# Into a scratch folder, then moved into place, so that a half-written
	# binary is never taken for a cached one.
	tmp=$(mktemp -d "$TOOLS/.minio.XXXXXX")
	if ! (cd "$tmp" && GOBIN=$tmp GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$MINIO_MODULE@$MINIO_VERSION"); then
		rm -rf "$tmp"
		die "go install minio@$MINIO_VERSION failed"
	fi
	mv -f "$tmp/minio" "$MINIO"
	rm -rf "$tmp"
	say "minio $MINIO_VERSION: installed at $MINIO in $((SECONDS - start)) s"
}

# free_port prints a free port on 127.0.0.1 other than $1.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		[[ $p != "${1:-}" ]] && port_free "$p" && break
	done
	printf '%s\n' "$p"
}

cmd_start() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	[[ -x $MINIO ]] || die "$MINIO missing: run '$0 install'"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [[ -f $dir/minio.pid ]] && alive "$(cat "$dir/minio.pid")"; then
		die "$dir already has a running minio: run '$0 stop $dir' first"
	fi
	mkdir -p "$dir/kms" "$dir/minio"
	local access secret kmskey kmsaddr
	access=LK$(rand_hex 9)
	secret=$(rand_hex 20)
	kmskey=$(head -c 32 /dev/urandom | base64)
	trap 'cmd_stop "$dir" >/dev/null 2>&1' ERR
	kmsaddr=$(start_localkms "$dir")
	(tsa_start "$dir")
	local attempt pid deadline code port cport
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		cport=$(free_port "$port")
		# Secrets through the environment, not the command line (ps). No
		# console, no update checks, no call home: loopback only.
		MINIO_ROOT_USER=$access MINIO_ROOT_PASSWORD=$secret \
			MINIO_KMS_SECRET_KEY="$MINIO_KMS_KEY:$kmskey" \
			MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off \
			MINIO_REGION=$REGION \
			"$MINIO" server "$dir/minio" --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
			--quiet >"$dir/minio.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/minio.pid"
		deadline=$((SECONDS + TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do
			code=$(http_status "127.0.0.1:$port" "GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1:$port\r\n\r\n")
			if [[ $code == 200 ]]; then
				break 2
			fi
			sleep 0.2
		done
		if alive "$pid"; then
			kill "$pid" 2>/dev/null || true
			log_tail "$dir/minio.log"
			die "minio on 127.0.0.1:$port did not answer its health check within ${TIMEOUT}s"
		fi
		say "minio exited at start on port $port (attempt $attempt); retrying"
		log_tail "$dir/minio.log"
	done
	alive "$(cat "$dir/minio.pid")" || die "minio would not start (see $dir/minio.log)"
	trap - ERR
	umask 077
	cat >"$dir/env.tmp" <<EOT
export LOGKEEPER_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export LOGKEEPER_TEST_S3_ACCESS_KEY=$access
export LOGKEEPER_TEST_S3_SECRET_KEY=$secret
export LOGKEEPER_TEST_S3_SERVER=minio
export LOGKEEPER_TEST_S3_SSE_KEY=$MINIO_KMS_KEY
export LOGKEEPER_TEST_S3_DATA=$dir/minio
export LOGKEEPER_TEST_KMS_ENDPOINT=http://$kmsaddr
export LOGKEEPER_TEST_REGION=$REGION
EOT
	cat "$dir/tsa.env" >>"$dir/env.tmp"
	mv -f "$dir/env.tmp" "$dir/env"
	say "minio on http://127.0.0.1:$port (pid $(cat "$dir/minio.pid"), log $dir/minio.log, data $dir/minio)"
	say "local-kms on http://$kmsaddr (pid $(cat "$dir/localkms.pid"))"
}

cmd_stop() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	[[ -d $dir ]] || return 0
	stop_pid minio "$dir/minio.pid" minio
	stop_pid localkms "$dir/localkms.pid" 'localkms-*'
	tsa_stop "$dir"
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
