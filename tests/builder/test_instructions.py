"""Instruction semantics beyond the basics: ADD, COPY flags, RUN mounts and network, outputs, ARGs."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import lzma
import tarfile
import threading
import hashlib

import zstandard

from .conftest import config_of, write_context


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.mode = len(data), 7, 8, 0o640
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_add_extracts_local_archives_in_every_compression(build, imgtool):
    plain = _tar({"p/x": b"plain\n"})
    files = {
        "Dockerfile": "FROM busybox\nADD a.tar /plain/\nADD a.tar.gz /gz/\nADD a.tar.xz /xz/\nADD a.tar.zst /zst/\n"
                      "ADD notes.txt /n.txt\nCOPY a.tar.gz /copied.tar.gz\n",
        "a.tar": plain, "a.tar.gz": gzip.compress(plain), "a.tar.xz": lzma.compress(plain),
        "a.tar.zst": zstandard.ZstdCompressor().compress(plain), "notes.txt": "just a file\n",
    }
    r = build(files, "-t", "add")
    assert r.returncode == 0, r
    out = imgtool("run", "add", "sh", "-c",
                  "cat /plain/p/x /gz/p/x /xz/p/x /zst/p/x /n.txt; stat -c '%u:%g %a' /gz/p/x; test -f /copied.tar.gz")
    assert out.stdout == "plain\n" * 4 + "just a file\n7:8 640\n", out


def test_add_url_with_checksum(build, imgtool, tmp_path):
    body = b"downloaded\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/dir/file.txt"
        good = "sha256:" + hashlib.sha256(body).hexdigest()
        r = build({"Dockerfile": f"FROM busybox\nADD --checksum={good} {url} /d/\n"}, "-t", "url")
        assert r.returncode == 0, r
        out = imgtool("run", "url", "sh", "-c", "cat /d/file.txt; stat -c %a /d/file.txt")
        assert out.stdout == "downloaded\n600\n", out
        bad = "sha256:" + "0" * 64
        r = build({"Dockerfile": f"FROM busybox\nADD --checksum={bad} {url} /d/\n"}, "-t", "url2")
        assert r.returncode != 0 and "checksum mismatch" in r.stderr.strip().splitlines()[-1], r
    finally:
        server.shutdown()


def test_copy_parents_exclude_link_and_dockerignore(build, imgtool):
    files = {
        "Dockerfile": "FROM busybox\nCOPY --parents a/*/f.txt /p/\nCOPY --exclude=*.log logs /l/\n"
                      "COPY --link top.txt /link/\nCOPY . /all/\n",
        "a/one/f.txt": "1\n", "a/two/f.txt": "2\n", "logs/keep.txt": "k\n", "logs/drop.log": "d\n",
        "top.txt": "t\n", "secret.env": "no\n", "build/out": "no\n", ".dockerignore": "secret.env\nbuild\n",
    }
    r = build(files, "-t", "flags")
    assert r.returncode == 0, r
    out = imgtool("run", "flags", "sh", "-c", "cd /p && find . -type f | sort; ls /l; cat /link/top.txt; ls -a /all | sort")
    assert out.stdout.split("\n") == ["./a/one/f.txt", "./a/two/f.txt", "keep.txt", "t",
                                      ".", "..", ".dockerignore", "Dockerfile", "a", "logs", "top.txt", ""], out


def test_copy_from_keeps_owners_and_follows_symlinked_sources(build, imgtool):
    """COPY --from keeps the source stage's owners (context files are root's); a symlinked source
    is copied as what it points to, under its own name; a change of owner alone misses the cache."""
    stage = ("FROM busybox AS src\nRUN mkdir /out && echo a > /out/a && ln -s a /out/a-sym "
             "&& chown -R {owner} /out\n"
             "FROM busybox\nCOPY --from=src /out /copied\nCOPY --from=src /out/a-sym /out/a /two/\n"
             "COPY --from=src --chown=7:8 /out/a /chowned\n")
    r = build({"Dockerfile": stage.format(owner="123:456")}, "-t", "owners")
    assert r.returncode == 0, r
    out = imgtool("run", "owners", "sh", "-c", "stat -c '%n %u:%g %F' /copied/a /copied/a-sym /two/a-sym "
                  "/two/a /chowned")
    assert out.stdout.splitlines() == ["/copied/a 123:456 regular file", "/copied/a-sym 123:456 symbolic link",
                                       "/two/a-sym 123:456 regular file", "/two/a 123:456 regular file",
                                       "/chowned 7:8 regular file"], out
    again = build({"Dockerfile": stage.format(owner="124:456")}, "-t", "owners")
    assert again.returncode == 0, again
    out = imgtool("run", "owners", "stat", "-c", "%u:%g", "/copied/a")
    assert out.stdout.strip() == "124:456", out


def test_run_mounts_cache_bind_tmpfs_and_network_none(build, imgtool):
    dockerfile = """\
FROM busybox
RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=bind,source=data,target=/mnt cat /mnt/d > /fromctx && (touch /mnt/new 2>/dev/null || echo ro > /ro)
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && test ! -e /tmp/never
RUN --network=none sh -c 'ip link 2>/dev/null | grep -c "^[0-9]" > /links || cat /proc/net/dev | tail -n +3 | wc -l > /links'
"""
    r = build({"Dockerfile": dockerfile, "data/d": "ctx\n"}, "-t", "mounts")
    assert r.returncode == 0, r
    out = imgtool("run", "mounts", "sh", "-c", "cat /count /fromctx /ro /links; ls /scratch /cache 2>&1 | wc -l")
    lines = out.stdout.split()
    assert lines[:4] == ["1", "ctx", "ro", "1"], out
    # the cache mount persists to the next build (a different RUN line sees the earlier write)
    r = build({"Dockerfile": "FROM busybox\nRUN --mount=type=cache,target=/cache cat /cache/log > /seen\n"}, "-t", "m2")
    assert r.returncode == 0, r
    assert imgtool("run", "m2", "cat", "/seen").stdout == "x\n"


def test_platform_args_epoch_and_labels(build, imgtool, busybox_store):
    dockerfile = """\
ARG BASE=busybox
FROM $BASE
ARG TARGETPLATFORM
ARG BUILDARCH
RUN echo "$TARGETPLATFORM $BUILDARCH" > /plat
COPY f /f
EXPOSE 80 53/udp
VOLUME /v
STOPSIGNAL SIGQUIT
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c"]
HEALTHCHECK --interval=5s CMD true
"""
    r = build({"Dockerfile": dockerfile, "f": "f\n"}, "-t", "meta", "--build-arg", "SOURCE_DATE_EPOCH=1234567890",
              "--label", "org.example=yes")
    assert r.returncode == 0, r
    assert imgtool("run", "meta", "cat /plat; stat -c %Y /f").stdout == "linux/amd64 amd64\n1234567890\n"
    config = config_of(busybox_store, "meta")
    c = config["config"]
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/v": {}} and c["StopSignal"] == "SIGQUIT" and c["User"] == "1000:1000"
    assert c["Entrypoint"] == ["/bin/sh", "-c"] and "Cmd" not in c
    assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "true"] and c["Healthcheck"]["Interval"] == 5_000_000_000
    assert c["Labels"] == {"org.example": "yes"}
    assert config["created"] == "2009-02-13T23:31:30Z"
    new = [h for h in config["history"] if h.get("comment") == "buildkit.dockerfile.v0"]
    assert {h["created"] for h in new} == {"2009-02-13T23:31:30Z"}


def test_outputs_oci_layout_and_docker_archive(build, imgtool, tmp_path):
    layout = tmp_path / "layout"
    r = build({"Dockerfile": "FROM busybox\nRUN echo o > /o\n"}, "-t", "out:1", "--output", f"type=oci-layout,dest={layout}")
    assert r.returncode == 0, r
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "out:1"
    archive = tmp_path / "img.tar"
    r = build({"Dockerfile": "FROM busybox\nRUN echo o > /o\n"}, "-t", "out:2", "--output", f"type=docker,dest={archive}")
    assert r.returncode == 0, r
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] == ["out:2"]
    oci = tmp_path / "img.oci.tar"
    r = build({"Dockerfile": "FROM busybox\n"}, "--output", f"type=oci,dest={oci}")
    assert r.returncode == 0 and tarfile.is_tarfile(oci), r


def test_check_only_reports_warnings(imgtool, busybox_store, tmp_path):
    ctx = write_context(tmp_path / "chk", {"Dockerfile": "from busybox as Build\nENV API_TOKEN=x\n"})
    r = imgtool("build", "--check", str(ctx))
    assert r.returncode == 0, r
    assert "SecretsUsedInArgOrEnv" in r.stderr and "StageNameCasing" in r.stderr, r
    assert busybox_store.images()[0].name == "busybox"


def test_resource_flags_limit_run_steps(build):
    r = build({"Dockerfile": "FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=200M count=1\n"},
              "--memory", "32m", "--memory-swap", "32m")
    assert r.returncode != 0, r
    assert "out of memory" in r.stderr.strip().splitlines()[-1] or "exit code: 137" in r.stderr, r
    r = build({"Dockerfile": "FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=50M count=1\n"}, "--memory", "256m")
    assert r.returncode == 0, r
    r = build({"Dockerfile": "FROM busybox\n"}, "--memory", "1x")
    assert r.returncode != 0 and "Traceback" not in r.stderr, r


def test_locked_cache_mount_serialises_steps(busybox_store, tmp_path):
    import subprocess
    import sys

    procs = []
    for i in range(2):
        ctx = write_context(tmp_path / f"l{i}", {"Dockerfile": (
            f"FROM busybox\nRUN --mount=type=cache,id=shared,target=/c,sharing=locked "
            f"sh -c 'test ! -e /c/busy; touch /c/busy; sleep 1; rm /c/busy; echo {i} >> /c/log'\n")})
        procs.append(subprocess.Popen([sys.executable, "-m", "imgtool", "build", "--progress", "plain", str(ctx)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
