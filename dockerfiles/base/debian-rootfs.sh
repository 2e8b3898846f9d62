#!/bin/sh
# Make a debian:bookworm root filesystem tarball with mmdebstrap (Debian package), minbase variant.
#
#   dockerfiles/base/debian-rootfs.sh OUT.tar [SUITE]
#
# The image gets this host's CA certificates, so that TLS from RUN steps (npm's registry, https
# apt sources) works where the host's own TLS does, e.g. behind a TLS-inspecting proxy:
#   - the host bundle ($CA_BUNDLE, default: the first of the usual paths that exists) is copied to
#     /etc/ssl/certs/ca-certificates.crt, which apt, curl and OpenSSL read;
#   - the host's local additions (/usr/local/share/ca-certificates/*.crt) are copied to the same
#     place in the image, so that update-ca-certificates (run when a package such as nodejs pulls in
#     ca-certificates) rebuilds a bundle that still holds them.
# apt inside the image uses the mirror mmdebstrap used ($MIRROR, default deb.debian.org over http);
# a proxy in the host's environment (http_proxy, https_proxy) is used by mmdebstrap itself; pass it
# to RUN steps with --build-arg http_proxy=... as with docker build.
set -eu
out=${1:?usage: debian-rootfs.sh OUT.tar [SUITE]}
suite=${2:-bookworm}
if ! command -v mmdebstrap >/dev/null; then
    echo "debian-rootfs.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2
    exit 1
fi
bundle=${CA_BUNDLE:-}
if [ -z "$bundle" ]; then
    for candidate in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
        if [ -s "$candidate" ]; then bundle=$candidate; break; fi
    done
fi
if [ -z "$bundle" ] || ! [ -s "$bundle" ]; then
    echo "debian-rootfs.sh: no CA bundle found on this host (set CA_BUNDLE=FILE)" >&2
    exit 1
fi
local_certs=/usr/local/share/ca-certificates
# mmdebstrap copies the host's resolv.conf and hostname in: an image must not carry them
# (the runtime provides both), and a build must not depend on the host that made the base
mmdebstrap --quiet --variant=minbase \
    --customize-hook="mkdir -p \"\$1/etc/ssl/certs\" \"\$1$local_certs\"" \
    --customize-hook="cp '$bundle' \"\$1/etc/ssl/certs/ca-certificates.crt\"" \
    --customize-hook="if ls $local_certs/*.crt >/dev/null 2>&1; then cp $local_certs/*.crt \"\$1$local_certs/\"; fi" \
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' \
    "$suite" "$out" ${MIRROR:+"$MIRROR"}
