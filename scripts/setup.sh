#!/usr/bin/env bash
# Install what imgtool and its tests need on a fresh Debian 12 machine (root): the peers the tests
# run against (skopeo, umoci, runc, crun, containerd, podman, distribution) and the Python package.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    busybox-static   # the base image (dockerfiles/base)
    skopeo umoci     # read/write OCI layouts and archives; interop tests
    runc crun        # OCI runtimes: interop tests and `--runtime`
    containerd podman buildah   # real clients of the registry
    docker-registry  # distribution 2.8: the registry benchmark's reference
    docker.io        # dockerd + BuildKit: the builder's differential tests and benchmark; docker-daemon: tests
    mmdebstrap       # the debian:bookworm example base (dockerfiles/base)
    zstd bzip2 xz-utils   # archives in every compression for the ADD tests
    file tar gzip iproute2 procps
    curl             # docs/registry.md's deployment page checks /metrics and /readyz with it
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# docker-registry's package starts a service on :5000; the tests and benchmarks start their own
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v -e '^WARNING: Running pip as' -e 'is ignored: it is neither' || true
