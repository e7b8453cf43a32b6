#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# static-deps.sh: builds the static archives the static cnibox links that Debian ships no .a for
# (cJSON, libiptc) or ships too large (OpenSSL: libssl-dev's archives carry every algorithm and
# protocol), from Debian's own source packages, pinned by version and by the sha256 of each
# tarball, into a cache that later runs reuse. Used by the static build (docs/building.md,
# -DCNIBOX_STATIC=ON).
#
#   tools/static-deps.sh [PREFIX]     (default: $CNIBOX_DEPS_CACHE, else /var/cache/cnibox-static-deps)
#
# Prints the install prefix (PREFIX/<key>) on stdout; CMake passes it as CNIBOX_DEPS_PREFIX.
# glibc (libc.a, libc6-dev) and libnftnl.a (libnftnl-dev) come from Debian's binary packages and
# are not built here.
set -euo pipefail

# ---- pins: Debian 12 source packages (the versions Debian 12 ships as binaries today) ----
# name  version  file=sha256 ...
PINS=(
  "cjson 1.7.15-1+deb12u4
   cjson_1.7.15.orig.tar.gz=5308fd4bd90cef7aa060558514de6a1a4a0819974a26e6ed13973c5f624c24b2
   cjson_1.7.15-1+deb12u4.debian.tar.xz=afd19a970966cf534ff1e9ec077d710a5e7e78eb4ec9b499c8bdc32e55da12cb"
  "iptables 1.8.9-2
   iptables_1.8.9.orig.tar.xz=ef6639a43be8325a4f8ea68123ffac236cb696e8c78501b64e8106afb008c87f
   iptables_1.8.9-2.debian.tar.xz=5415053f2033a351cf85c33e13d67388770f803e8bdce24f46371ea6e7488a6b"
  "openssl 3.0.20-1~deb12u2
   openssl_3.0.20.orig.tar.gz=c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f
   openssl_3.0.20-1~deb12u2.debian.tar.xz=7279efe85c359500c95aa88347e3395dd303d7566e2bb818d80d96e0c3bb9629"
)
# OpenSSL: bookworm's own (3.0.20-1~deb12u2; bookworm-security's 3.0.22 source answers 404 from
# this project's mirror), configured for what lib/kube/httpc.c uses: a TLS 1.2/1.3 client with
# ECDHE (X25519, P-256, P-384), AES-GCM, ChaCha20-Poly1305, RSA (PKCS#1, PSS) and ECDSA, X.509
# verification, PEM/PKCS#8 keys without encryption. docs/building.md has what each group saves;
# tests/unit/test_httpc_tls.c is the matrix that must still pass.
OPENSSL_OPTS=(
  # what is linked and how: no shared objects, nothing loaded at run time (no dlopen(), so no
  # static-glibc warning), no engines, no legacy provider, no config file read on init
  no-shared no-dso no-engine no-module no-legacy no-autoload-config no-tests
  # protocols and TLS features a Kubernetes API client never negotiates
  no-ssl3 no-tls1 no-tls1_1 no-dtls no-dgram no-srp no-psk no-comp no-srtp no-sctp no-nextprotoneg
  no-ocsp no-ct no-ssl-trace no-async
  # formats and PKI beyond X.509 verification
  no-cms no-cmp no-ts no-rfc3779
  # algorithms TLS 1.2/1.3 with the usual cipher suites never uses (no-des: PEM keys are not
  # encrypted; no-dh: Go's API server offers no FFDHE; no-dsa, no-ec2m: no such certificates)
  no-idea no-camellia no-seed no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-md4 no-mdc2 no-rmd160
  no-rc2 no-rc4 no-rc5 no-bf no-cast no-des no-dh no-dsa no-gost no-siphash no-scrypt no-ec2m
  no-cmac no-ocb no-siv no-blake2
  # interfaces nothing calls: the terminal password prompt, the secure heap, deprecated APIs
  no-ui-console no-secure-memory no-deprecated
)
# Appended to Debian's target flags (so -Os replaces OpenSSL's -O3): smaller, and measured no
# slower for a handshake; per-function sections for the cnibox link's --gc-sections. The
# assembler (AES-NI, SHA, P-256, X25519, ChaCha20, Poly1305, Montgomery) stays.
OPENSSL_CFLAGS=(-Os -ffunction-sections -fdata-sections)
# No libmnl: libnftnl.a links against lib/kernel/mnl.c (Debian's libmnl source answers 404 from
# this project's mirror, and the subset libnftnl uses is small).
# Bump when the build recipe below changes, so a stale cache is not reused.
RECIPE=3

cache=${1:-${CNIBOX_DEPS_CACHE:-/var/cache/cnibox-static-deps}}
key=$(printf '%s\n' "${PINS[@]}" "recipe=$RECIPE" "openssl=${OPENSSL_OPTS[*]} ${OPENSSL_CFLAGS[*]}" \
              "cc=$(${CC:-cc} -dumpfullversion 2>/dev/null || echo ?)" |
      sha256sum | cut -c1-16)
prefix=$cache/$key
log() { printf 'static-deps: %s\n' "$*" >&2; }

if [[ -f $prefix/.done ]]; then
        log "cached: $prefix"
        echo "$prefix"
        exit 0
fi

# ---- deb-src entry (idempotent, in its own file; same mirrors as the binary entries) ----
src_list=/etc/apt/sources.list.d/cnibox-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        [[ $(id -u) == 0 ]] || { log "no deb-src entry and not root: add one (see docs/building.md)"; exit 1; }
        log "adding $src_list"
        cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -qq
fi

work=$cache/work.$$
rm -rf "$work" "$prefix.tmp"
mkdir -p "$work" "$prefix.tmp"/{lib,include}
trap 'rm -rf "$work"' EXIT
jobs=$(( $(nproc) > 2 ? 2 : $(nproc) ))

fetch() { # name version files... → $work/<name>-src (Debian patches applied)
        local name=$1 ver=$2 f file sum
        shift 2
        mkdir -p "$work/dl"
        if ! (cd "$work/dl" && apt-get source --download-only -qq "$name=$ver" >&2); then
                log "apt-get source $name=$ver failed (apt-get update? deb-src entry?)"
                exit 1
        fi
        for f in "$@"; do
                file=${f%%=*} sum=${f#*=}
                if ! echo "$sum  $work/dl/$file" | sha256sum -c --quiet - >&2; then
                        log "$file: sha256 is not the pinned $sum"
                        exit 1
                fi
        done
        (cd "$work/dl" && dpkg-source --no-check -x "${name}_${ver#*:}.dsc" "$work/$name-src" >/dev/null)
}

build_one() { # the whole pin line
        local -a a
        read -r -d '' -a a <<<"$1" || true
        local t0=$SECONDS
        fetch "${a[@]}"
        log "building ${a[0]} ${a[1]}"
        case ${a[0]} in
        cjson)
                # One file; built as Debian's CMake build compiles it (C89, -O2), without the shared lib.
                (cd "$work/cjson-src" && ${CC:-cc} -O2 -std=c89 -fno-semantic-interposition -c cJSON.c -o cJSON.o &&
                 ar rcs "$prefix.tmp/lib/libcjson.a" cJSON.o)
                mkdir -p "$prefix.tmp/include/cjson"
                cp "$work/cjson-src/cJSON.h" "$prefix.tmp/include/cjson/"
                ;;
        iptables)
                # Only libiptc (libip4tc.a, libip6tc.a): the legacy IPT_SO_SET_REPLACE path.
                (cd "$work/iptables-src" &&
                 ./configure -q --enable-static --disable-shared --disable-nftables --disable-bpf-compiler \
                             --disable-nfsynproxy --disable-libipq --disable-connlabel >&2 &&
                 make -s -j"$jobs" -C libiptc >&2)
                cp "$work/iptables-src/libiptc/.libs/libip4tc.a" "$work/iptables-src/libiptc/.libs/libip6tc.a" \
                   "$prefix.tmp/lib/"
                mkdir -p "$prefix.tmp/include/libiptc"
                cp "$work"/iptables-src/include/libiptc/*.h "$prefix.tmp/include/libiptc/"
                ;;
        openssl)
                # Debian's target (debian-ARCH: its patches' flags, security level 2); the
                # certificate directory Debian's libssl uses, for the system-store fallback; only
                # the two archives (build_libs: no apps, no docs, no tests). The "built on" date
                # is the Debian changelog's, as in Debian's own build: the archives are then the
                # same bytes on every machine with the same compiler.
                local epoch
                epoch=$(dpkg-parsechangelog -l "$work/openssl-src/debian/changelog" -STimestamp)
                (cd "$work/openssl-src" && export SOURCE_DATE_EPOCH="$epoch" &&
                 ./Configure "debian-$(dpkg --print-architecture)" --openssldir=/usr/lib/ssl \
                             "${OPENSSL_OPTS[@]}" "${OPENSSL_CFLAGS[@]}" >/dev/null &&
                 make -s -j"$jobs" build_libs >/dev/null)
                cp "$work/openssl-src/libssl.a" "$work/openssl-src/libcrypto.a" "$prefix.tmp/lib/"
                mkdir -p "$prefix.tmp/include/openssl"
                cp "$work"/openssl-src/include/openssl/*.h "$prefix.tmp/include/openssl/"
                ;;
        esac
        log "${a[0]}: $((SECONDS - t0)) s (download, unpack, build)"
}

for p in "${PINS[@]}"; do
        build_one "$p"
done
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
touch "$prefix/.done"
log "built: $prefix"
echo "$prefix"
