#!/usr/bin/env bash
# tests/install/run.sh BUILD_DIR: `cmake --install` the build into a temporary prefix, then build and run
# a program outside the tree (consumer.c) against the installed tree twice: with pkg-config (ima.pc)
# and with CMake's find_package(ima CONFIG). Also checks the soname and that only ima_* is exported.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
pc=$(find "$tmp/prefix" -name ima.pc)
[ -n "$pc" ] || fail "no ima.pc installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$tmp/prefix/include/ima/api.h" ] || fail "no include/ima/api.h installed"
[ -x "$tmp/prefix/bin/ima" ] || fail "no bin/ima installed"
[ -f "$libdir/cmake/ima/imaConfig.cmake" ] && [ -f "$libdir/cmake/ima/imaConfigVersion.cmake" ] || fail "no imaConfig.cmake"
so=$(readelf -d "$libdir/libima.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$so" = libima.so.0 ] || fail "soname '$so', expected libima.so.0"
[ -f "$libdir/libima.so.0" ] && [ -n "$(ls "$libdir"/libima.so.0.*)" ] || fail "libima.so.0 -> libima.so.0.x.y links missing"
other=$(nm -D --defined-only "$libdir/libima.so" | awk '{print $3}' | grep -v '^ima_' || true)
[ -z "$other" ] || fail "libima.so exports non-ima symbols: $other"
# the public headers must stand alone (no private src/ header, nothing beyond include/ima)
for h in "$tmp"/prefix/include/ima/*.h; do
    echo "#include <ima/$(basename "$h")>" | cc -std=c11 -fsyntax-only -I"$tmp/prefix/include" -x c - \
        || fail "header $(basename "$h") does not compile on its own"
done

# 1. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion ima)" = "$(sed -n 's/^Version: //p' "$pc")" ] || fail "pkg-config --modversion"
# shellcheck disable=SC2046
cc -std=c11 -o "$tmp/consumer_pc" "$here/consumer.c" $(pkg-config --cflags --libs ima) -lm || fail "build with pkg-config"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc") || fail "consumer (pkg-config) failed"
echo "pkg-config: $out"
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/consumer_pc")   # (not piped into grep -q: SIGPIPE under pipefail)
case "$deps" in *"$libdir/libima.so.0"*) ;; *) fail "consumer_pc does not load the installed libima.so.0: $deps" ;; esac

# 2. find_package(ima CONFIG)
cmake -S "$here" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/cm.log" 2>&1 \
    || { cat "$tmp/cm.log"; fail "configure with find_package(ima CONFIG)"; }
cmake --build "$tmp/cm" >"$tmp/cmb.log" 2>&1 || { cat "$tmp/cmb.log"; fail "build with find_package"; }
out2=$("$tmp/cm/consumer") || fail "consumer (find_package) failed"   # the build tree's RPATH finds libima
echo "find_package: $out2"
[ "$out" = "$out2" ] || fail "the two builds print different results"
echo "install tree OK"
