#!/bin/sh
# make-certs.sh - regenerate the test PKI used by tests/unit/net.
#
# The PEM files are checked in; run this only to replace them:
#     cd tests/certs && ./make-certs.sh
#
# What it makes (ECDSA P-256, SHA-256, valid 36500 days = about 100 years, so
# the tests never start failing because a certificate expired):
#   ca.crt         "torghut test CA", the trust anchor the client tests load
#   server.crt     leaf for localhost with SAN DNS:localhost, IP:127.0.0.1,
#                  EKU serverAuth, signed by ca.crt
#   server.key     its private key (PKCS#8, unencrypted)
#   other-ca.crt   "torghut untrusted CA", an unrelated CA: a client that trusts
#                  only this one must refuse server.crt
#
# mbedTLS 2.28 matches the expected host name against dNSName SAN entries only
# (not iPAddress), so the tests verify the name "localhost" while dialling
# 127.0.0.1. The CA keys are not kept: rerunning makes a fresh PKI.
set -eu
days=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ec "$tmp/ca.key"
openssl req -x509 -new -sha256 -key "$tmp/ca.key" -days "$days" \
	-subj "/O=torghut tests/CN=torghut test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.crt

ec "$tmp/other.key"
openssl req -x509 -new -sha256 -key "$tmp/other.key" -days "$days" \
	-subj "/O=torghut tests/CN=torghut untrusted CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out other-ca.crt

ec server.key
openssl req -new -sha256 -key server.key -subj "/O=torghut tests/CN=localhost" \
	-out "$tmp/server.csr"
cat > "$tmp/ext.cnf" <<EOX
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EOX
openssl x509 -req -sha256 -in "$tmp/server.csr" -CA ca.crt -CAkey "$tmp/ca.key" \
	-CAcreateserial -CAserial "$tmp/ca.srl" -days "$days" \
	-extfile "$tmp/ext.cnf" -out server.crt

openssl verify -CAfile ca.crt server.crt
