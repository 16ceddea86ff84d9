#!/usr/bin/env bash
# tsa.sh starts the loopback RFC 3161 time-stamp authority the tests use:
# tools/tsa, an HTTP front for `openssl ts -reply`. Its certificates are made
# afresh with openssl at every start, into DIR/tsa:
#   root.pem        the trusted test root (LOGKEEPER_TEST_TSA_ROOTS)
#   ca.pem          an intermediate CA under it, which certifies tsa.pem
#   tsa.pem         the TSA certificate (critical timeStamping EKU)
#   other-root.pem  another root, which certifies other-tsa.pem
#
#   scripts/tsa.sh start DIR   start it; write DIR/tsa.env and DIR/tsa.pid
#   scripts/tsa.sh stop DIR    stop it (already stopped is fine)
#
# DIR/tsa.env exports LOGKEEPER_TEST_TSA_URL (signs under root.pem),
# LOGKEEPER_TEST_TSA_OTHER_URL (signs under other-root.pem) and
# LOGKEEPER_TEST_TSA_ROOTS. scripts/testenv.sh start calls it.
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIMEOUT=${LOGKEEPER_TESTENV_TIMEOUT:-30}

tsa_say() { printf 'tsa: %s\n' "$*" >&2; }
tsa_die() {
	printf 'tsa: error: %s\n' "$*" >&2
	exit 1
}

# tsa_certs D: a root, an intermediate and a TSA under it; another root and
# a TSA under that; the openssl configuration of both TSAs.
tsa_certs() {
	local d=$1
	mkdir -p "$d"
	(
		cd "$d"
		umask 077
		cat >ext.cnf <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
		local key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
		# shellcheck disable=SC2086 # key is several words
		openssl req -x509 $key -keyout root.key -out root.pem -days 3 -subj "/O=logkeeper tests/CN=Test TSA Root" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		# shellcheck disable=SC2086
		openssl req -x509 $key -keyout other-root.key -out other-root.pem -days 3 -subj "/O=someone else/CN=Other TSA Root" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		sign() { # NAME SUBJECT CA EXT
			# shellcheck disable=SC2086
			openssl req -new $key -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
			openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
				-days 2 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
		}
		sign ca "/O=logkeeper tests/CN=Test TSA CA" root ca
		sign tsa "/O=logkeeper tests/CN=Test TSA" ca tsa
		sign other-tsa "/O=someone else/CN=Other TSA" other-root tsa
		cat tsa.pem ca.pem >tsa-chain.pem
		echo 01 >serial-main
		echo 01 >serial-other
		cat >openssl.cnf <<EOF
[tsa_main]
serial = $d/serial-main
signer_cert = $d/tsa.pem
certs = $d/tsa-chain.pem
signer_key = $d/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[tsa_other]
serial = $d/serial-other
signer_cert = $d/other-tsa.pem
certs = $d/other-tsa.pem
signer_key = $d/other-tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
	)
}

# tsa_start DIR: certificates, build, start; prints nothing on stdout.
tsa_start() {
	local dir=$1
	command -v openssl >/dev/null || tsa_die "openssl is not on PATH (Debian: apt-get install openssl)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local d=$dir/tsa bin=$dir/tsa/tsa-server log=$dir/tsa.log out=$dir/tsa.out
	tsa_certs "$d" || tsa_die "openssl could not make the test certificates"
	(cd "$ROOT" && GOFLAGS=-buildvcs=false go build -o "$bin" ./tools/tsa) || tsa_die "go build tools/tsa failed"
	: >"$out"
	"$bin" -addr 127.0.0.1:0 -dir "$d" >"$out" 2>"$log" </dev/null &
	local pid=$! addr="" deadline=$((SECONDS + TIMEOUT))
	echo "$pid" >"$dir/tsa.pid"
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		if IFS= read -r addr 2>/dev/null <"$out" && [[ $addr == 127.0.0.1:* ]]; then
			umask 077
			cat >"$dir/tsa.env" <<EOF
export LOGKEEPER_TEST_TSA_URL=http://$addr/
export LOGKEEPER_TEST_TSA_OTHER_URL=http://$addr/other
export LOGKEEPER_TEST_TSA_ROOTS=$d/root.pem
EOF
			tsa_say "time-stamp authority on http://$addr/ (pid $pid, log $log)"
			return 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	cat "$log" >&2 || true
	tsa_die "tools/tsa printed no address within ${TIMEOUT}s"
}

# tsa_stop DIR: stops the server if it is still the one started there.
tsa_stop() {
	local dir=$1 pid
	[[ -f $dir/tsa.pid ]] || return 0
	pid=$(cat "$dir/tsa.pid")
	if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f1) == "$dir/tsa/tsa-server" ]]; then
		kill "$pid" 2>/dev/null || true
		tsa_say "stopped (pid $pid)"
	fi
	rm -f "$dir/tsa.pid"
}

# Sourced (scripts/testenv.sh does): define only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	case ${1:-} in
	start) tsa_start "${2:?DIR}" ;;
	stop) tsa_stop "${2:?DIR}" ;;
	*)
		sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
fi
