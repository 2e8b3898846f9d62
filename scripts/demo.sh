#!/usr/bin/env bash
# The main job end to end on embedded defaults:
#   make the busybox base image -> list -> save/load (OCI and docker archives) -> serve it from the
#   bundled registry -> push and pull it (imgtool's client; skopeo checks) -> run it in
#   namespaces under cgroup limits, including an OOM kill.
# Everything happens in a temporary directory unless IMGTOOL_ROOT is set. Needs root (namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
registry_pid=
cleanup() {
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export IMGTOOL_ROOT=${IMGTOOL_ROOT:-$work/store}

step() { printf '\n==> %s\n' "$*"; }

step "make busybox:latest from Debian's busybox-static"
dockerfiles/base/make-base.sh busybox:latest

step "list images in $IMGTOOL_ROOT"
imgtool images

step "save as an OCI archive and a docker-archive, load both into a second store"
imgtool save busybox -o "$work/busybox.oci.tar"
imgtool save busybox -o "$work/busybox.docker.tar" --format docker
IMGTOOL_ROOT=$work/second imgtool load -i "$work/busybox.oci.tar"
IMGTOOL_ROOT=$work/second imgtool load -i "$work/busybox.docker.tar"

step "serve the bundled registry on 127.0.0.1"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
imgtool registry serve --root "$work/registry" --addr "127.0.0.1:$port" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz')" 2>/dev/null && break
    sleep 0.1
done

step "push to it and pull it back into a second store (imgtool push/pull; skopeo checks)"
imgtool push -q busybox "127.0.0.1:$port/demo/busybox:latest"
IMGTOOL_ROOT="$work/pulled" imgtool pull -q "127.0.0.1:$port/demo/busybox:latest"
echo "pushed and pulled: $(skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/demo/busybox:latest" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')"

step "run it under limits (--memory 32m --cpus 0.5 --pids-limit 64)"
imgtool run --rm --memory 32m --cpus 0.5 --pids-limit 64 busybox \
    sh -c 'echo "hello from PID $$ on host $(hostname)"; dd if=/dev/zero of=/dev/null bs=16M count=1 2>&1 | tail -1'
set +e
imgtool run --rm --memory 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1
status=$?
set -e
echo "a 64 MB buffer under --memory 32m exits $status (137 = OOM-killed)"
[ "$status" -eq 137 ]

step "done"
