#!/usr/bin/env bash
# Recipe: build wolfSSL from Debian's source package with its x86-64 assembly.
#
# Why: Debian's libwolfssl is configured without --enable-intelasm/--enable-aesni, so
# AES-GCM runs ~30x slower than the same source built with them (docs/DESIGN.md, "Dependencies and
# the wolfSSL build"). The source comes from the Debian package registry (`apt-get source wolfssl`)
# and is cached under subprojects/packagecache/ (git-ignored); it is never committed.
#
# Usage: build.sh    builds once into subprojects/packagecache/wolfssl-prefix-v3 (shared by
# every build directory) and prints that prefix on stdout; a later call only prints it.
# Exit 0 on success; non-zero with a reason on stderr otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/../packagecache"
cache=$(cd "$here/../packagecache" && pwd)
# The version names the recipe: a changed configuration builds into a new prefix.
prefix="$cache/wolfssl-prefix-v4"
stamp="$prefix/.anytls-wolfssl-recipe"

# Several build directories may be set up at once: one builds, the others wait.
exec 9>"$cache/.lock"
flock 9

if [[ -f "$stamp" && -f "$prefix/lib/libwolfssl.a" ]]; then
    echo "$prefix"
    exit 0
fi

case "$(uname -m)" in
    x86_64) ;;
    *) echo "wolfssl recipe: the assembly build needs x86-64, this is $(uname -m)" >&2; exit 2 ;;
esac

for tool in autoreconf libtoolize make; do
    command -v "$tool" >/dev/null || { echo "wolfssl recipe: '$tool' is missing (install autoconf automake libtool)" >&2; exit 2; }
done

mkdir -p "$cache"
src=$(find "$cache" -maxdepth 1 -type d -name 'wolfssl-[0-9]*' | sort | tail -n 1)
if [[ -z "$src" ]]; then
    echo "wolfssl recipe: fetching the Debian source package (apt-get source wolfssl)" >&2
    (cd "$cache" && apt-get source --only-source wolfssl >/dev/null 2>"$cache/apt-source.log") || {
        echo "wolfssl recipe: 'apt-get source wolfssl' failed; is a deb-src entry configured? (see $cache/apt-source.log)" >&2
        exit 3
    }
    src=$(find "$cache" -maxdepth 1 -type d -name 'wolfssl-[0-9]*' | sort | tail -n 1)
fi
[[ -n "$src" ]] || { echo "wolfssl recipe: no source directory after apt-get source" >&2; exit 3; }

rm -rf "$prefix"
work="$prefix.work"
rm -rf "$work" && mkdir -p "$work"
cp -a "$src/." "$work/"
cd "$work"
log="$prefix.log"
{
    [[ -x configure ]] || ./autogen.sh
    # What we need (docs/DESIGN.md, "Dependencies and the wolfSSL build"): TLS 1.3 (1.2 still
    # allowed), SNI, ALPN, session tickets, X25519, ChaCha20-Poly1305, AES-GCM; the x86-64 assembly
    # for AES and SP math; IP SANs for hostname checks against IP literals; cert/key generation for
    # the server's self-signed certificate. The client's ClientHello and checks
    # (docs/FINGERPRINT.md): the peer's leaf certificate kept for certificate pinning
    # (KEEP_PEER_CERT: about 1 KiB per connection, where sessioncerts' inline chain of nine 2 KiB
    # buffers cost every session 19 KiB), a 32-byte legacy session id with TLS 1.3
    # middlebox compatibility, as Go and Chrome send, and psk_key_exchange_modes only in a
    # hello that offers a PSK (NO_TLSX_PSKKEM_PLAIN_ANNOUNCE): the client never resumes, and
    # Go without a session cache never sends it.
    ./configure --prefix="$prefix" --enable-static --disable-shared --with-pic \
        CPPFLAGS="-DKEEP_PEER_CERT -DWOLFSSL_TLS13_MIDDLEBOX_COMPAT -DNO_TLSX_PSKKEM_PLAIN_ANNOUNCE" \
        --enable-intelasm --enable-aesni --enable-sp --enable-sp-asm \
        --enable-tls13 --enable-sni --enable-alpn --enable-session-ticket \
        --enable-curve25519 --enable-chacha --enable-poly1305 --enable-aesgcm \
        --enable-ip-alt-name --enable-certgen --enable-keygen --enable-sys-ca-certs \
        --enable-harden --disable-examples --disable-crypttests --disable-benchmark
    make -j"$(nproc)"
    make install
} >"$log" 2>&1 || { echo "wolfssl recipe: build failed, see $log" >&2; exit 4; }

grep -q 'define USE_INTEL_SPEEDUP' "$prefix/include/wolfssl/options.h" || {
    echo "wolfssl recipe: built, but USE_INTEL_SPEEDUP is not set" >&2; exit 5; }
rm -rf "$work"
dsc=$(ls "$cache"/wolfssl_*.dsc 2>/dev/null | sort | tail -n 1)
if [[ -n "$dsc" ]]; then basename "$dsc" .dsc; else basename "$src"; fi >"$stamp"
echo "$prefix"
