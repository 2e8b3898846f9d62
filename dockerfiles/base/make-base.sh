#!/bin/sh
# Build busybox:latest in the imgtool store ($IMGTOOL_ROOT, or ~/.local/share/imgtool).
#
#   dockerfiles/base/make-base.sh [NAME]      (default busybox:latest)
set -eu
name=${1:-busybox:latest}
here=$(cd "$(dirname "$0")" && pwd)
tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT
"$here/busybox-rootfs.sh" "$tarball"
imgtool=${IMGTOOL:-imgtool}
$imgtool import "$tarball" -t "$name" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]'
