#!/usr/bin/env bash
# capi-pkgconfig: proves that anytls.pc works — builds tests/capi/capi_test.c with the system C
# compiler and nothing but `pkg-config --cflags --libs` for the uninstalled library, then runs
# it. Usage: pkgconfig_test.sh <build root> <capi_test.c> <b_sanitize option>
# Exit 0 pass, 1 fail, 77 skip (sanitizer build: a plain binary cannot load an instrumented
# library; or no pkg-config / cc).
set -euo pipefail
build_root=$1
source_file=$2
sanitize=${3:-none}

if [[ "$sanitize" != none ]]; then
    echo "skip: sanitizer build ($sanitize)"
    exit 77
fi
command -v pkg-config >/dev/null || { echo "skip: no pkg-config"; exit 77; }
command -v cc >/dev/null || { echo "skip: no cc"; exit 77; }

export PKG_CONFIG_PATH="$build_root/meson-uninstalled"
flags=$(pkg-config --cflags --libs anytls-uninstalled)
version=$(pkg-config --modversion anytls-uninstalled)
echo "pkg-config anytls-uninstalled $version: $flags"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -pthread -o "$work/capi_test" "$source_file" $flags
# The -L directory of the uninstalled library is where the loader must look too.
libdir=$(pkg-config --variable=prefix anytls-uninstalled)/capi
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/capi_test"
