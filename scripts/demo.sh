#!/usr/bin/env bash
# The main job end to end on embedded defaults, as chapter 2 of Kubernetes: Up and Running tells it:
#   make the base images -> serve the bundled registry -> build the book's examples -> push them,
#   remove them, pull them back -> inspect the layer-order pitfall and the leaked key -> run the app
#   detached with a published port under resource limits -> fetch its page -> stop, remove, clean up.
# Everything happens in a temporary directory unless IMGTOOL_ROOT is set. Needs root (namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
registry_pid=
cleanup() {
    imgtool rm -f kuard >/dev/null 2>&1 || true
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export IMGTOOL_ROOT=${IMGTOOL_ROOT:-$work/store}
app_port=${DEMO_PORT:-8080}

step() { printf '\n==> %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fetch() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
digest() { imgtool images --digests --format json | python3 -c '
import json, sys
for line in sys.stdin:
    row = json.loads(line)
    if row["Repository"] + ":" + row["Tag"] == sys.argv[1]:
        print(row["Digest"])' "$1"; }

step "base images: busybox (Debian's busybox-static), debian:bookworm (mmdebstrap), node (built by imgtool)"
dockerfiles/base/make-base.sh busybox:latest
dockerfiles/base/make-debian.sh debian:bookworm
QUIET=1 dockerfiles/base/make-node.sh node:latest
imgtool images

step "serve the bundled registry on 127.0.0.1"
port=$(free_port)
imgtool registry serve --root "$work/registry" --addr "127.0.0.1:$port" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    fetch "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
reg=127.0.0.1:$port

step "build the book's Node.js app (.dockerignore, dependencies before source) and the multi-stage Go server"
imgtool build -q -t "$reg/kuard:v1" dockerfiles/simple-node
imgtool build -q -t "$reg/server:v1" dockerfiles/multistage
imgtool images

step "push both, remove them locally, pull them back: the digests must not change"
pushed_app=$(digest "$reg/kuard:v1")
pushed_server=$(digest "$reg/server:v1")
imgtool push -q "$reg/kuard:v1"
imgtool push -q "$reg/server:v1"
imgtool rmi "$reg/kuard:v1" "$reg/server:v1"
imgtool pull -q "$reg/kuard:v1"
imgtool pull -q "$reg/server:v1"
[ "$(digest "$reg/kuard:v1")" = "$pushed_app" ] && [ "$(digest "$reg/server:v1")" = "$pushed_server" ]
echo "pulled digest equals pushed digest: $pushed_app"
echo "pulled digest equals pushed digest: $pushed_server"

step "layer order: the same app with the dependency install after the source copy (the pitfall)"
imgtool build -q -t layer-order:bad -f dockerfiles/layer-order/Dockerfile.bad dockerfiles/layer-order
imgtool inspect --layers layer-order:bad

step "a key ADDed and then deleted still ships: imgtool finds it in the deleted layer"
ssh-keygen -q -t ed25519 -N '' -C demo -f "$work/deploy_key" 2>/dev/null \
    || python3 -c 'import sys; from cryptography.hazmat.primitives.asymmetric import ed25519; from cryptography.hazmat.primitives import serialization as s; open(sys.argv[1], "wb").write(ed25519.Ed25519PrivateKey.generate().private_bytes(s.Encoding.PEM, s.PrivateFormat.OpenSSH, s.NoEncryption()))' "$work/deploy_key"
cp -r dockerfiles/secret-leak "$work/secret-leak"
cp "$work/deploy_key" "$work/secret-leak/leak/deploy_key"
imgtool build -q -t secret-leak "$work/secret-leak/leak"
imgtool inspect --secrets secret-leak || true   # it exits non-zero when it finds one
imgtool build -q -t secret-fixed --secret "id=deploy_key,src=$work/deploy_key" "$work/secret-leak/fixed"
imgtool inspect --secrets secret-fixed

step "run the app as the book does: detached, named, port published, memory and CPU limited"
imgtool run -d --name kuard -p "127.0.0.1:$app_port:3000" \
    --memory 200m --memory-swap 1G --cpu-shares 1024 "$reg/kuard:v1"
imgtool ps
for _ in $(seq 100); do
    page=$(fetch "http://127.0.0.1:$app_port/" 2>/dev/null) && break
    sleep 0.2
done
echo "GET http://127.0.0.1:$app_port/ -> ${page:-nothing}"
[ "${page:-}" = "Hello World!" ]
imgtool logs kuard

step "stop and remove it; remove the images; prune what is left"
imgtool stop kuard
imgtool rm kuard
imgtool rmi "$reg/kuard:v1" "$reg/server:v1" layer-order:bad secret-leak secret-fixed node debian:bookworm busybox
imgtool system prune -a -f
kill "$registry_pid" && wait "$registry_pid" 2>/dev/null || true
registry_pid=
echo "containers left: $(imgtool ps -aq | wc -l)"
echo "images left: $(imgtool images -q | wc -l)"

step "done"
