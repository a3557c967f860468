#!/bin/sh
# The one build of the release binary: `make build`, the Dockerfile and the image check (deploy/image_test.go)
# all run this script, so what CI checks is what the image ships. A static binary (no cgo), with the
# project's build tags, no local paths (-trimpath) and no symbol tables.
#
# The tag is the Makefile's TAGS (nomsgpack: gin without its msgpack codec); deploy/image_test.go checks both agree.
#
# Usage: scripts/build-binary.sh OUTPUT
#   VERSION (optional) replaces the release version of cmd/verifier/version.go in `verifier version`;
#   COMMIT (optional, default: git's HEAD when there is a repository, else unknown) names the commit.
set -eu
out=${1:?usage: scripts/build-binary.sh OUTPUT}
case $out in /*) ;; *) out="$PWD/$out" ;; esac
cd "$(dirname "$0")/.."
commit=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
ldflags="-s -w -X main.commit=$commit"
if [ -n "${VERSION:-}" ]; then ldflags="$ldflags -X main.version=$VERSION"; fi
CGO_ENABLED=0 exec go build -tags nomsgpack -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/verifier
