"""`imgtool build` end to end: real runtime, real store, busybox base."""

from __future__ import annotations

from .conftest import config_of

BASIC = """\
FROM busybox
ENV FOO=bar
WORKDIR /app
COPY a.txt .
COPY dir /app/dir/
RUN echo "hi $FOO" && cat a.txt && echo out > /app/out
CMD ["cat", "/app/out"]
"""


def test_basic_build_runs_and_has_buildkit_history(build, imgtool, busybox_store):
    r = build({"Dockerfile": BASIC, "a.txt": "hello\n", "dir/x": "x\n"}, "-t", "app:1")
    assert r.returncode == 0, r
    assert "#5 [5/5] RUN" in r.stderr and "hi bar" in r.stderr and "hello" in r.stderr
    run = imgtool("run", "app:1")
    assert run.stdout == "out\n", run
    ls = imgtool("run", "app:1", "sh", "-c", "cat /app/a.txt /app/dir/x; stat -c '%u:%g %a' /app/a.txt")
    assert ls.stdout == "hello\nx\n0:0 644\n", ls
    config = config_of(busybox_store, "app:1")
    assert config["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"]
    assert config["config"]["WorkingDir"] == "/app"
    assert config["config"]["Cmd"] == ["cat", "/app/out"]
    built = [h for h in config["history"] if h.get("comment") == "buildkit.dockerfile.v0"]
    assert [h["created_by"] for h in built] == [
        "ENV FOO=bar",
        "WORKDIR /app",
        "COPY a.txt . # buildkit",
        "COPY dir /app/dir/ # buildkit",
        'RUN /bin/sh -c echo "hi $FOO" && cat a.txt && echo out > /app/out # buildkit',
        'CMD ["cat" "/app/out"]',
    ]
    assert [h.get("empty_layer", False) for h in built] == [True, False, False, False, False, True]
    assert len(config["rootfs"]["diff_ids"]) == 5


def test_volume_then_run_keeps_the_write(build, imgtool):
    r = build({"Dockerfile": "FROM busybox\nVOLUME /data\nRUN mkdir -p /data && echo kept > /data/x\n"}, "-t", "vol")
    assert r.returncode == 0, r
    out = imgtool("run", "vol", "cat", "/data/x")
    # imgtool run mounts a tmpfs on the VOLUME, as docker does; the layer itself must hold the file
    from imgtool.store import Store

    store = Store.open()
    image = store.resolve("vol")
    assert len(image.layers) == 2, out
    from imgtool.layer import compression
    import tarfile

    with store.open_blob(image.layers[-1].digest) as blob, \
            tarfile.open(fileobj=compression.open_decompressed(blob), mode="r|") as tar:
        names = [m.name for m in tar]
    assert "data/x" in names


def test_multistage_copy_from_and_parallel_stages(build, imgtool):
    dockerfile = """\
FROM busybox AS one
RUN mkdir /out && echo one > /out/one
FROM busybox AS two
RUN mkdir /out && echo two > /out/two
FROM busybox AS unused
RUN exit 1
FROM scratch
COPY --from=one /out/one /
COPY --from=two /out /res/
COPY --from=busybox /bin/busybox /bin/busybox
"""
    r = build({"Dockerfile": dockerfile}, "-t", "multi")
    assert r.returncode == 0, r
    assert "unused" not in r.stderr
    out = imgtool("run", "multi", "/bin/busybox", "cat", "/one", "/res/two")
    assert out.stdout == "one\ntwo\n", out


def test_arg_env_heredoc_and_history_prefix(build, imgtool, busybox_store):
    dockerfile = """\
# syntax=docker/dockerfile:1
FROM busybox
ARG GREETING=hello
RUN <<EOF
echo "$GREETING world" > /greeting
EOF
COPY <<EOT /etc/note
note $GREETING
EOT
RUN <<EOF
#!/bin/sh
echo script >> /greeting
EOF
"""
    r = build({"Dockerfile": dockerfile}, "-t", "heredoc", "--build-arg", "GREETING=hi")
    assert r.returncode == 0, r
    out = imgtool("run", "heredoc", "cat", "/greeting", "/etc/note")
    assert out.stdout == "hi world\nscript\nnote hi\n", out
    created_by = [h["created_by"] for h in config_of(busybox_store, "heredoc")["history"]]
    assert "ARG GREETING=hi" in created_by
    assert any(c.startswith("RUN |1 GREETING=hi /bin/sh -c") for c in created_by), created_by


def test_copy_chown_chmod_and_user_lookup(build, imgtool):
    dockerfile = """\
FROM busybox
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:3456:' >> /etc/group
COPY --chown=app a /a
COPY --chown=app:grp --chmod=750 a /b
COPY --chown=42 --chmod=u+x,g-r a /c
USER app
WORKDIR /work
"""
    r = build({"Dockerfile": dockerfile, "a": "a\n"}, "-t", "own")
    assert r.returncode == 0, r
    out = imgtool("run", "own", "stat", "-c", "%n %u:%g %a", "/a", "/b", "/c", "/work")
    assert out.stdout == "/a 1234:2345 644\n/b 1234:3456 750\n/c 42:42 704\n/work 1234:2345 755\n", out


def test_secret_mount_is_not_in_the_image(build, imgtool, busybox_store, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value")
    dockerfile = "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /seen-size && wc -c < /run/secrets/tok > /n\n"
    r = build({"Dockerfile": dockerfile}, "-t", "sec", "--secret", f"id=tok,src={secret}")
    assert r.returncode == 0, r
    out = imgtool("run", "sec", "sh", "-c", "cat /n; ls /run/secrets 2>&1 || true")
    assert out.stdout.split()[0] == "12", out
    image = busybox_store.resolve("sec")
    for layer in image.layers[1:]:
        from imgtool.layer import compression

        with busybox_store.open_blob(layer.digest) as blob:
            data = compression.open_decompressed(blob).read()
        assert b"run/secrets" not in data
    assert b"s3cr3t" not in image.config_bytes


def test_onbuild_triggers_run_in_the_child(build, imgtool):
    r = build({"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /t\n"}, "-t", "parent")
    assert r.returncode == 0, r
    r = build({"Dockerfile": "FROM parent\nRUN cat /t\n"}, "-t", "child")
    assert r.returncode == 0, r
    assert "ONBUILD RUN echo triggered" in r.stderr
    assert imgtool("run", "child", "cat", "/t").stdout == "triggered\n"


def test_onbuild_copy_from_schedules_the_childs_stage(build, busybox_store):
    """A trigger's `COPY --from=helper` names a stage of the child's Dockerfile that nothing else
    uses: it is built when the trigger needs it (BuildKit), not reported as unscheduled."""
    r = build({"Dockerfile": "FROM busybox\nONBUILD COPY --from=helper /made /from-helper\n"}, "-t", "ob-parent")
    assert r.returncode == 0, r
    r = build({"Dockerfile": "FROM busybox AS helper\nRUN echo helped > /made\n\nFROM ob-parent\n"}, "-t", "ob-child")
    assert r.returncode == 0, r
    assert "ONBUILD COPY --from=helper /made /from-helper" in r.stderr
    layer = busybox_store.resolve("ob-child").layers[-1]
    import tarfile

    with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        found = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    assert found == {"from-helper": b"helped\n"}


def test_onbuild_copy_from_its_own_stage_is_a_cycle(build):
    r = build({"Dockerfile": "FROM busybox\nONBUILD COPY --from=me /etc/passwd /p\n"}, "-t", "cyc-parent")
    assert r.returncode == 0, r
    r = build({"Dockerfile": "FROM cyc-parent AS me\n"}, "-t", "cyc-child")
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("imgtool: ") and "circular dependency" in last and "me" in last, r.stderr


def test_quiet_prints_the_image_id_and_iidfile(build, tmp_path):
    iid = tmp_path / "iid"
    r = build({"Dockerfile": "FROM busybox\nLABEL a=b\n"}, "-q", "--iidfile", str(iid))
    assert r.returncode == 0, r
    assert r.stdout.strip() == iid.read_text() and iid.read_text().startswith("sha256:")


def test_dockerfile_from_stdin_and_per_dockerfile_ignore(imgtool, busybox_store, tmp_path):
    r = imgtool("build", "--progress", "plain", "-t", "stdin", "-", input=b"FROM busybox\nRUN echo from-stdin > /s\n")
    assert r.returncode == 0, r
    assert imgtool("run", "stdin", "cat", "/s").stdout == "from-stdin\n"
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "keep").write_text("k\n")
    (ctx / "skip").write_text("s\n")
    (ctx / "sub" / "app.Dockerfile").write_text("FROM busybox\nCOPY . /c/\n")
    (ctx / "sub" / "app.Dockerfile.dockerignore").write_text("skip\n")
    r = imgtool("build", "--progress", "plain", "-t", "perfile", "-f", str(ctx / "sub" / "app.Dockerfile"), str(ctx))
    assert r.returncode == 0, r
    assert imgtool("run", "perfile", "ls", "/c").stdout.split() == ["keep", "sub"]


def test_independent_stages_run_at_the_same_time(build, imgtool):
    """Each stage waits up to 20 s for the other to have started: only parallel stages both finish."""
    wait = ("sh -c 'touch /c/{me}; i=0; while [ ! -e /c/{other} ]; do i=$((i+1)); "
            "[ $i -gt 200 ] && exit 7; sleep 0.1; done'")
    dockerfile = (
        "FROM busybox AS a\n"
        f"RUN --mount=type=cache,id=par-{id(build)},target=/c {wait.format(me='a', other='b')}\n"
        "FROM busybox AS b\n"
        f"RUN --mount=type=cache,id=par-{id(build)},target=/c {wait.format(me='b', other='a')}\n"
        "FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n")
    r = build({"Dockerfile": dockerfile}, "-t", "par")
    assert r.returncode == 0, r


def test_run_steps_get_dockers_default_seccomp_profile(build, imgtool):
    # BuildKit's RUN runs under docker's default profile: no new namespaces, no mounts, no keyring
    dockerfile = ("FROM busybox\nRUN grep ^Seccomp: /proc/self/status > /status; "
                  "unshare -U true 2> /refused && echo userns-ok >> /refused; "
                  "mkdir /m && mount -t tmpfs none /m 2>> /refused; true\n")
    assert build({"Dockerfile": dockerfile}, "-t", "seccomp-run").returncode == 0
    r = imgtool("run", "--rm", "--network", "none", "seccomp-run", "cat", "/status", "/refused", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Seccomp:\t2" and "unshare(0x10000000): Operation not permitted" in lines[1], lines
    assert "permission denied" in lines[2] and "userns-ok" not in r.stdout, lines  # busybox's words for EPERM
