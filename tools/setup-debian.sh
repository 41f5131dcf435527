#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install what sluice needs to build, test and benchmark on Debian 12. Idempotent; run as root.
set -eu
pkgs="build-essential meson ninja-build pkg-config python3 libjemalloc-dev liburing-dev
libxxhash-dev libhwloc-dev libcriterion-dev clang clang-format libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing
fi
