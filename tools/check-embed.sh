#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install libsluice into a staging prefix and build the example of docs/api.md against it
# with pkg-config only, as an embedder would; then run it and check it printed batches.
# usage: tools/check-embed.sh BUILD_DIR
set -eu
build=${1:-build}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
pc="$stage$libdir/pkgconfig"
python3 - "$stage/example.c" <<'PY'
import re, sys
s = open("docs/api.md").read()
open(sys.argv[1], "w").write(re.search(r"```c\n(.*?)```", s, re.S).group(1))
PY
# pkg-config reports the final prefix; point it at the staging copy
cflags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$stage$prefix" --cflags sluice)
libs=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$stage$prefix" --libs sluice)
cc -std=gnu17 -Wall -Wextra -Werror $cflags "$stage/example.c" $libs -o "$stage/example"
out=$(LD_LIBRARY_PATH="$stage$libdir" "$stage/example")
echo "$out" | grep -q '^3000 ' || { echo "check-embed: the example printed no batch at 3000 ms"; exit 1; }
nm -D --defined-only "$stage$libdir/libsluice.so" | awk '{print $3}' | grep -v '^sluice_' | grep -v '^SLUICE_' && {
	echo "check-embed: libsluice.so exports symbols outside sluice_*"; exit 1; } || true
echo "check-embed: OK (installed library, header and sluice.pc build and run the docs/api.md example)"
