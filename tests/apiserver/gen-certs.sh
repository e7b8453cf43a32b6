#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gen-certs.sh: make a throwaway CA, a server cert (SAN 127.0.0.1, localhost) and a
# client cert for the fake API server used by tests (spec istio-cni.md §2.5, §4.4).
# Usage: gen-certs.sh DIR   -> DIR/{ca.crt,ca.key,server.crt,server.key,client.crt,client.key}
set -euo pipefail
dir=${1:?usage: gen-certs.sh DIR}
command -v openssl >/dev/null || { echo "gen-certs.sh: openssl not found" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"
umask 077
# EC P-256 keys: generation is instant, which keeps test start-up fast.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=cnibox-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null

newkey server.key
openssl req -new -key server.key -subj "/CN=kube-apiserver" -out server.csr 2>/dev/null
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null

newkey client.key
# O=system:masters mirrors how admin client certs look on a real cluster.
openssl req -new -key client.key -subj "/O=system:masters/CN=cnibox-test-client" -out client.csr 2>/dev/null
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" > client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 2 \
    -extfile client.ext -out client.crt 2>/dev/null

rm -f server.csr client.csr server.ext client.ext ca.srl
chmod 0644 ca.crt server.crt client.crt
