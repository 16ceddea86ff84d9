#!/usr/bin/env bash
# chromium.sh installs Debian's chromium, which the report tests
# (service/report) drive headless, when it is not installed yet.
#
#   scripts/chromium.sh            install it if missing; print its path
#
# It needs root (CI and the development machines run as root) and Debian's
# package archive; nothing is downloaded from anywhere else.
set -euo pipefail

BIN=${LOGKEEPER_CHROMIUM:-/usr/bin/chromium}

if [ -x "$BIN" ]; then
	echo "$BIN"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "chromium.sh: $BIN is missing and installing it needs root: apt-get install -y chromium" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "chromium.sh: installing Debian's chromium" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
if [ ! -x "$BIN" ]; then
	echo "chromium.sh: installed the chromium package, but $BIN is not there" >&2
	exit 1
fi
echo "$BIN"
