#!/usr/bin/env bash
# A fresh Debian 12 machine in a throwaway root: the README's set-up path with only Debian's python3.
#
#   tests/setup/fresh_debian.sh WORKDIR REPO [COMMAND]
#
# Makes WORKDIR/root with `mmdebstrap --variant=minbase bookworm` (downloads reuse the host's apt
# cache through a read-only overlay), copies REPO's tracked files into /root/imgtool (a plain clone:
# no ../shared beside it), and runs COMMAND there in a chroot (default: `scripts/setup.sh && make
# demo`). Everything runs in private mount and PID namespaces, so no mount or process outlives it.
# Services that packages start are held off inside the root (policy-rc.d), as in any chroot.
set -euo pipefail
work=$1 repo=$2
command=${3:-"scripts/setup.sh && make demo"}
root=$work/root
mkdir -p "$work/cache-upper" "$work/cache-work" "$root"

exec unshare --mount --pid --fork --propagation private bash -euo pipefail -c '
work=$1 repo=$2 command=$3 root=$work/root
cache() {  # the host apt cache, read-only, under a writable upper: no host file is changed
    mkdir -p "$1"
    mount -t overlay overlay -o "lowerdir=/var/cache/apt/archives,upperdir=$work/cache-upper,workdir=$work/cache-work" "$1"
}
if [ ! -x "$root/usr/bin/apt-get" ]; then
    mmdebstrap --variant=minbase --quiet --skip=check/empty --skip=download/empty \
        --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" && mount -t overlay overlay -o lowerdir=/var/cache/apt/archives,upperdir=$work/cache-upper,workdir=$work/cache-work \"\$1/var/cache/apt/archives\"" \
        --customize-hook="umount \"\$1/var/cache/apt/archives\"" \
        bookworm "$root" http://deb.debian.org/debian
fi
printf "#!/bin/sh\nexit 101\n" > "$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
rm -rf "$root/root/imgtool" && mkdir -p "$root/root/imgtool"
git -C "$repo" ls-files -z --cached --others --exclude-standard | (cd "$repo" && xargs -0 tar -cf - --no-recursion --ignore-failed-read) | tar -xf - -C "$root/root/imgtool"
mount --bind "$root" "$root"  # the root is a mount point, as / of a machine is (pivot_root needs one)
cache "$root/var/cache/apt/archives"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the one thing a machine on this network has that a bare root lacks: the CA its HTTPS goes through
# (kept apart from /etc/ssl/certs, which installing ca-certificates regenerates)
mkdir -p "$root/etc/ssl" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/network-ca.crt"
# and where the trust store of such a machine keeps it, so that npm or curl in an image built FROM the
# debian base (which takes the CAs of the machine) reach their registries as on the host: the local
# additions, which update-ca-certificates folds into the bundle whenever ca-certificates installs
mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] && cp "$crt" "$root/usr/local/share/ca-certificates/"
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# otherwise a clean environment, as a new login on that machine has
exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 PIP_CERT=/etc/ssl/network-ca.crt \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -euo pipefail -c "cd /root/imgtool && $command"
' fresh-debian "$work" "$repo" "$command"
