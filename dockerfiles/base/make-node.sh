#!/bin/sh
# Build node:latest with imgtool from debian:bookworm (make-debian.sh first).
#
#   dockerfiles/base/make-node.sh [NAME]        (default node:latest)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
imgtool=${IMGTOOL:-imgtool}
$imgtool build ${QUIET:+-q} --network host -t "${1:-node:latest}" "$here/node"
