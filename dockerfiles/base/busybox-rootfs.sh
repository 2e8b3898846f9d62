#!/bin/sh
# Make the busybox base image's root filesystem tarball from Debian's busybox-static.
#
#   dockerfiles/base/busybox-rootfs.sh OUT.tar
#
# The tarball holds /bin/busybox, a symlink for every applet, /etc/passwd and /etc/group with root
# and nobody, and /tmp (1777). Owners are numeric 0:0 and entries sorted, so the same busybox
# package always gives the same tarball. Import it with `imgtool import` (see make-base.sh).
set -eu
out=${1:?usage: busybox-rootfs.sh OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
if ! [ -x "$busybox" ] || ! file "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "busybox-rootfs.sh: $busybox is not a static busybox (apt-get install busybox-static)" >&2
    exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/root" \
         "$root/home" "$root/proc" "$root/sys" "$root/dev" "$root/var" "$root/tmp"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
"$busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
chmod 644 "$root/etc/passwd" "$root/etc/group"
tar --sort=name --numeric-owner --owner=0 --group=0 -C "$root" -cf "$out" .
