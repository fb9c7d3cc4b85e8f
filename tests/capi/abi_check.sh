#!/usr/bin/env bash
# capi-abi: the exported ABI of libanytls.so is exactly the functions anytls.h declares, each at
# its version node (ANYTLS_1, or the later node of anytls.map that lists it), and the soname is libanytls.so.1.
# Usage: abi_check.sh <libanytls.so path> <anytls.h path>
set -euo pipefail
lib=$1
header=$2
status=0
fail() { echo "FAIL: $*"; status=1; }

# Every dynamic symbol defined by the library, with its version.
defined=$(nm -D --defined-only --with-symbol-versions "$lib" | awk '{print $3}')
echo "exported:"
echo "$defined" | sed 's/^/  /'

# The functions added in each later node; every other one stays at ANYTLS_1.
node_1_1="anytls_stream_open_ex anytls_stream_fd_error"
node_1_2="anytls_stream_shutdown"
node_1_3="anytls_open_start anytls_open_notify_fd anytls_open_result anytls_open_cancel anytls_open_free"
node_1_4="anytls_version_number"
node_1_5="anytls_client_last_error anytls_client_set_log anytls_open_last_error anytls_server_last_error anytls_stream_last_error"
expected_node() {
    if [[ " $node_1_5 " == *" $1 "* ]]; then echo ANYTLS_1.5
    elif [[ " $node_1_4 " == *" $1 "* ]]; then echo ANYTLS_1.4
    elif [[ " $node_1_3 " == *" $1 "* ]]; then echo ANYTLS_1.3
    elif [[ " $node_1_2 " == *" $1 "* ]]; then echo ANYTLS_1.2
    elif [[ " $node_1_1 " == *" $1 "* ]]; then echo ANYTLS_1.1
    else echo ANYTLS_1; fi
}

# Only anytls_* at their nodes, plus the version nodes' own symbols.
others=$(echo "$defined" | grep -v -E '^anytls_[a-z0-9_]+@@ANYTLS_1(\.[1-5])?$' | grep -v -x -E 'ANYTLS_1(\.[1-5])?' || true)
[[ -z "$others" ]] || fail "symbols outside anytls_*@@ANYTLS_1 to ANYTLS_1.5: $others"

# objdump -T agrees on the version of every anytls_ symbol.
while read -r version name; do
    [[ "$version" == "$(expected_node "$name")" ]] || fail "$name has version $version, expected $(expected_node "$name")"
done < <(objdump -T "$lib" | awk '$NF ~ /^anytls_/ && $4 != "*UND*" {print $(NF-1), $NF}')

# The exported functions are exactly those the header declares.
declared=$(grep -o -E 'ANYTLS_API [^(]*\(' "$header" | grep -o -E 'anytls_[a-z0-9_]+' | sort -u)
exported=$(echo "$defined" | grep -E '^anytls_' | sed 's/@.*//' | sort -u)
if [[ "$declared" != "$exported" ]]; then
    fail "header and library differ:"
    diff <(echo "$declared") <(echo "$exported") || true
fi
[[ $(echo "$declared" | wc -l) -ge 20 ]] || fail "the header declares too few functions"

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[[ "$soname" == libanytls.so.1 ]] || fail "SONAME is '$soname', expected libanytls.so.1"

if [[ $status -eq 0 ]]; then
    echo "ABI check passed: $(echo "$exported" | wc -l) functions at ANYTLS_1 to ANYTLS_1.5, SONAME $soname"
fi
exit $status
