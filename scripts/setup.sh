#!/usr/bin/env bash
# Install what imgtool and its tests need on a fresh Debian 12 machine (root): the peers the tests
# run against (skopeo, umoci, runc, crun, containerd, podman, distribution) from apt, and imgtool
# itself into the project's virtual environment `.venv` (Debian's python3 refuses `pip install`
# into the system, PEP 668; nothing is ever installed there). Idempotent and quick when everything
# is already there. Any failed install stops the script with apt's or pip's own message.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    python3 python3-venv   # the project's .venv (Debian's python3 has no ensurepip without it)
    busybox-static   # the base image (dockerfiles/base)
    skopeo umoci     # read/write OCI layouts and archives; interop tests
    runc crun        # OCI runtimes: interop tests and `--runtime`
    containerd podman buildah   # real clients of the registry
    docker-registry  # distribution 2.8: the registry benchmark's reference
    docker.io        # dockerd + BuildKit: the builder's differential tests and benchmark; docker-daemon: tests
    mmdebstrap       # the debian:bookworm example base (dockerfiles/base); the fresh-machine test (tests/setup)
    zstd bzip2 xz-utils   # archives in every compression for the ADD tests
    slirp4netns passt     # user-mode networking for containers (the default network, -p)
    make file tar gzip iproute2 procps
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
    # docker-registry's package starts its own service on :5000; the tests and benchmarks start
    # their own registries, so stop (and disable) the packaged one, once, right after installing it
    if [[ " ${missing[*]} " == *" docker-registry "* ]]; then
        if [ -d /run/systemd/system ]; then
            systemctl disable --now docker-registry.service
        elif [ -x /etc/init.d/docker-registry ] && /etc/init.d/docker-registry status >/dev/null 2>&1; then
            /etc/init.d/docker-registry stop  # no systemd (a container, a chroot): stop it if it runs
        fi
    fi
fi

# The venv is made with Debian's python3 where there is one (a fresh machine has only that one);
# elsewhere with whatever python3 is first on the PATH.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
venv=.venv
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "setup: creating $venv with $python"
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
# An editable install in setuptools' "compat" mode: a plain path entry in a .pth file, so edits in
# the checkout are live, and `site` runs no import hook at every start (the default "strict" mode
# installs a finder that costs ~20 ms of imports per call; docs/benchmarks.md "CLI start-up").
install=(-e '.[test]' --config-settings editable_mode=compat)
# reinstall only when the dependencies or the install mode changed (pip's own check is slow for an
# editable install)
stamp="$venv/.installed-$( { cat pyproject.toml; echo "${install[*]}"; } | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ] || [ ! -x "$venv/bin/imgtool" ]; then
    echo "setup: installing imgtool and its test dependencies into $venv"
    # (this machine's pip config may name local indexes that do not exist: drop just those warnings;
    # with pipefail a failing pip still fails the script)
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${install[@]}" 2>&1 \
        | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
# Byte-compile the checkout: the environment may set PYTHONDONTWRITEBYTECODE (CI does), and then
# every call would compile imgtool from source again. Timestamp mode is Python's own default: a
# .pyc whose recorded source mtime and size differ from the file's is ignored and the source
# compiled, so an edit is never shadowed by an old .pyc. Quick and silent when nothing changed.
"$venv/bin/python" -m compileall -q --invalidation-mode timestamp imgtool registry
# imgtool-runc as the `-I -S` launcher in place of pip's console script (docs/runtime.md "Start-up"):
# containerd, podman and CRI-O start it several times per container, and pip's wrapper pays for
# `site` and `re` on each call although imgtool's runtime needs only the standard library. The
# launcher names this checkout itself, so it works without PYTHONPATH, from any directory.
"$venv/bin/python" -I -m imgtool.runtime.launcher "$venv/bin/imgtool-runc" >/dev/null
