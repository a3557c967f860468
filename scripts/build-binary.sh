#!/bin/sh
# The one build of the release binary: `make build`, the Dockerfile and the image check (deploy/image_test.go)
# all run this script, so what CI checks is what the image ships. A static binary (no cgo), with the
# project's build tags, no local paths (-trimpath) and no symbol tables.
#
# Usage: scripts/build-binary.sh OUTPUT   (VERSION in the environment sets `verifier version`, default dev)
set -eu
out=${1:?usage: scripts/build-binary.sh OUTPUT}
case $out in /*) ;; *) out="$PWD/$out" ;; esac
cd "$(dirname "$0")/.."
CGO_ENABLED=0 exec go build -tags jwx_es256k,nomsgpack -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=${VERSION:-dev}" -o "$out" ./cmd/verifier
