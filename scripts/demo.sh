#!/usr/bin/env bash
# The main job end to end on embedded defaults: make the busybox base image, import it, list it,
# save it as an OCI archive and a docker-archive, and load it into a second store.
# Everything happens in a temporary store unless IMGTOOL_ROOT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export IMGTOOL_ROOT=${IMGTOOL_ROOT:-$work/store}

step() { printf '\n==> %s\n' "$*"; }

step "make busybox:latest from Debian's busybox-static"
dockerfiles/base/make-base.sh busybox:latest

step "list images in $IMGTOOL_ROOT"
imgtool images

step "save as an OCI archive and a docker-archive"
imgtool save busybox -o "$work/busybox.oci.tar"
imgtool save busybox -o "$work/busybox.docker.tar" --format docker
ls -l "$work"/busybox.*.tar

step "load both into a second store"
IMGTOOL_ROOT=$work/second imgtool load -i "$work/busybox.oci.tar"
IMGTOOL_ROOT=$work/second imgtool load -i "$work/busybox.docker.tar"
IMGTOOL_ROOT=$work/second imgtool images

step "done"
