#!/bin/sh
# Build debian:bookworm in the imgtool store ($IMGTOOL_ROOT, or ~/.local/share/imgtool).
#
#   dockerfiles/base/make-debian.sh [NAME]      (default debian:bookworm)
set -eu
name=${1:-debian:bookworm}
here=$(cd "$(dirname "$0")" && pwd)
tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT
"$here/debian-rootfs.sh" "$tarball"
imgtool=${IMGTOOL:-imgtool}
$imgtool import "$tarball" -t "$name" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]'
