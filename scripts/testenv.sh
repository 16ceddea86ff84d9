#!/usr/bin/env bash
# testenv.sh installs and runs the servers logkeeper's integration tests use:
# versitygw (S3), local-kms (KMS) and a time-stamp authority (scripts/tsa.sh),
# all bound to 127.0.0.1 only.
#
#   scripts/testenv.sh install          build the servers into the tools cache
#   scripts/testenv.sh start DIR        start both; write DIR/env and pid files
#   scripts/testenv.sh stop DIR         stop both (already stopped is fine)
#   scripts/testenv.sh run -- CMD ...   install, start in a temporary folder,
#                                       run CMD with the LOGKEEPER_TEST_*
#                                       variables set, stop, exit with CMD's code
#
# The tools cache is ${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}.
# LOGKEEPER_TESTENV_TIMEOUT (seconds, default 30) bounds the wait for a server.
set -euo pipefail
# The pinned Go toolchain (as in go.mod and the Makefile).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

VERSITYGW_VERSION=v1.8.0
REGION=us-east-1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/tsa.sh
. "$ROOT/scripts/tsa.sh"
TOOLS=${LOGKEEPER_TOOLS:-$HOME/.cache/logkeeper/tools}
TIMEOUT=${LOGKEEPER_TESTENV_TIMEOUT:-30}

say() { printf 'testenv: %s\n' "$*" >&2; }
die() {
	printf 'testenv: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# localkms_bin prints the cache path of the local-kms wrapper for the current
# sources: the name carries a hash of go.mod, go.sum and main.go.
localkms_bin() {
	local src=$ROOT/tools/localkms hash
	hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
	printf '%s/localkms-%s\n' "$TOOLS" "$hash"
}

cmd_install() {
	command -v go >/dev/null || die "go is not on PATH"
	mkdir -p "$TOOLS"

	local vgw=$TOOLS/versitygw
	if [[ -x $vgw ]] && go version -m "$vgw" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$VERSITYGW_VERSION[[:space:]]"; then
		say "versitygw $VERSITYGW_VERSION: cached at $vgw"
	else
		say "versitygw $VERSITYGW_VERSION: go install into $TOOLS (about 90 s the first time)"
		# Install into a scratch folder, then move into place, so that a
		# half-written binary is never taken for a cached one.
		local tmp
		tmp=$(mktemp -d "$TOOLS/.versitygw.XXXXXX")
		if ! (cd "$tmp" && GOBIN=$tmp GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"); then
			rm -rf "$tmp"
			die "go install versitygw@$VERSITYGW_VERSION failed"
		fi
		mv -f "$tmp/versitygw" "$vgw"
		rm -rf "$tmp"
		say "versitygw $VERSITYGW_VERSION: installed at $vgw"
	fi

	local kms
	kms=$(localkms_bin)
	if [[ -x $kms ]]; then
		say "localkms: cached at $kms"
	else
		say "localkms: go build tools/localkms into $kms"
		if ! (cd "$ROOT/tools/localkms" && GOWORK=off GOFLAGS=-buildvcs=false go build -o "$kms.tmp.$$" .); then
			rm -f "$kms.tmp.$$"
			die "go build tools/localkms failed"
		fi
		mv -f "$kms.tmp.$$" "$kms"
		say "localkms: built $kms"
	fi
}

# rand_hex N prints N random bytes as upper-case hex.
rand_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F'
}

# port_free PORT succeeds when nothing accepts connections on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# http_status HOST:PORT REQUEST prints the status code of a raw HTTP/1.0
# exchange on loopback (empty when nothing answers).
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

alive() { kill -0 "$1" 2>/dev/null; }

log_tail() {
	local log=$1
	if [[ -s $log ]]; then
		printf -- '--- last lines of %s ---\n' "$log" >&2
		tail -n 20 "$log" >&2
		printf -- '---\n' >&2
	else
		printf -- '(%s is empty)\n' "$log" >&2
	fi
}

# start_versitygw DIR ACCESS SECRET: picks a free port, starts the gateway and
# prints its port once GET /health answers 200. Retries with another port when
# the chosen one is taken in the meantime.
start_versitygw() {
	local dir=$1 access=$2 secret=$3
	local bin=$TOOLS/versitygw log=$dir/versitygw.log
	[[ -x $bin ]] || die "$bin missing: run '$0 install'"
	local attempt port pid deadline code
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		# Credentials go through the environment, not the command line (ps).
		ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
			"$bin" --port "127.0.0.1:$port" --region "$REGION" --health /health --quiet \
			posix --versioning-dir "$dir/versions" "$dir/data" >"$log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/versitygw.pid"
		deadline=$((SECONDS + TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do
			code=$(http_status "127.0.0.1:$port" "GET /health HTTP/1.0\r\nHost: 127.0.0.1:$port\r\n\r\n")
			if [[ $code == 200 ]]; then
				printf '%s\n' "$port"
				return 0
			fi
			sleep 0.1
		done
		if alive "$pid"; then
			kill "$pid" 2>/dev/null || true
			log_tail "$log"
			die "versitygw on 127.0.0.1:$port did not answer GET /health within ${TIMEOUT}s"
		fi
		# It exited: most likely the port was taken between check and bind.
		say "versitygw exited at start on port $port (attempt $attempt); retrying"
		log_tail "$log"
	done
	die "versitygw would not start after 5 attempts (see $log)"
}

# start_localkms DIR: starts the wrapper on 127.0.0.1:0 and prints the address
# it bound (its first line of output) once a ListKeys call answers 200.
start_localkms() {
	local dir=$1 bin log=$dir/localkms.log out=$dir/localkms.out
	bin=$(localkms_bin)
	[[ -x $bin ]] || die "$bin missing: run '$0 install'"
	: >"$out"
	"$bin" -addr 127.0.0.1:0 -data "$dir/kms" -region "$REGION" >"$out" 2>"$log" </dev/null &
	local pid=$! addr="" code deadline=$((SECONDS + TIMEOUT))
	echo "$pid" >"$dir/localkms.pid"
	while alive "$pid" && ((SECONDS < deadline)); do
		# Take the address only once its whole line is written.
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
	alive "$pid" && kill "$pid" 2>/dev/null || true
	log_tail "$log"
	if [[ $addr == "" ]]; then
		die "localkms printed no address within ${TIMEOUT}s"
	fi
	die "localkms at $addr did not answer ListKeys within ${TIMEOUT}s"
}

cmd_start() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	for f in versitygw.pid localkms.pid; do
		if [[ -f $dir/$f ]] && alive "$(cat "$dir/$f")"; then
			die "$dir already has running servers ($f): run '$0 stop $dir' first"
		fi
	done
	mkdir -p "$dir/data" "$dir/versions" "$dir/kms"

	local access secret s3port kmsaddr
	access=LK$(rand_hex 9)
	secret=$(rand_hex 20)
	# Stop what was started if anything below fails.
	trap 'cmd_stop "$dir" >/dev/null 2>&1' ERR
	s3port=$(start_versitygw "$dir" "$access" "$secret")
	kmsaddr=$(start_localkms "$dir")
	(tsa_start "$dir")
	trap - ERR

	umask 077
	cat >"$dir/env.tmp" <<EOF
export LOGKEEPER_TEST_S3_ENDPOINT=http://127.0.0.1:$s3port
export LOGKEEPER_TEST_S3_ACCESS_KEY=$access
export LOGKEEPER_TEST_S3_SECRET_KEY=$secret
export LOGKEEPER_TEST_KMS_ENDPOINT=http://$kmsaddr
export LOGKEEPER_TEST_REGION=$REGION
EOF
	cat "$dir/tsa.env" >>"$dir/env.tmp"
	mv -f "$dir/env.tmp" "$dir/env"
	say "versitygw on http://127.0.0.1:$s3port (pid $(cat "$dir/versitygw.pid"), log $dir/versitygw.log)"
	say "localkms on http://$kmsaddr (pid $(cat "$dir/localkms.pid"), log $dir/localkms.log)"
	say "environment in $dir/env"
}

# stop_pid NAME PIDFILE EXE: stops the process in PIDFILE if it is still the
# one we started (its executable's file name matches the pattern EXE).
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
			for i in $(seq 50); do
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
	stop_pid versitygw "$dir/versitygw.pid" versitygw
	stop_pid localkms "$dir/localkms.pid" 'localkms-*'
	tsa_stop "$dir"
}

cmd_run() {
	[[ ${1:-} == -- ]] && shift
	(($# > 0)) || usage
	cmd_install
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/logkeeper-${RUN_NAME:-testenv}.XXXXXX")
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

# Sourced (scripts/seaweed.sh does, for the helpers above): define only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
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
fi
