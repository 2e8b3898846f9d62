"""Small docker-parity cases the differential tests (tests/builder/differential) found, each kept
here as a fast test against what docker 20.10 + BuildKit produced for the same Dockerfile."""

from __future__ import annotations

import os

import pytest

from imgtool.errors import ImgtoolError

from .conftest import write_context


def test_copy_of_a_symlink_copies_its_target_under_the_symlink_name(build, imgtool, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY link b-*.txt /plain/\n",
                                            "a.txt": "a\n", "real-b.txt": "b\n"})
    os.symlink("a.txt", ctx / "link")
    os.symlink("real-b.txt", ctx / "b-link.txt")
    assert build({}, "-t", "links", context=ctx).returncode == 0
    out = imgtool("run", "links", "sh", "-c", "ls /plain; test ! -L /plain/link && cat /plain/link /plain/b-link.txt")
    assert out.stdout.split() == ["b-link.txt", "link", "a", "b"], out


def test_a_copied_directory_gets_a_new_0755_destination(build, imgtool, tmp_path):
    ctx = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY d /c1\nCOPY --chmod=600 d /c2\nCOPY --chown=65534:65534 d /c3/\n"
                      "COPY d/ /tmp/\nRUN stat -c '%n %a %u' /c1 /c2 /c3 /c1/sub /c2/sub /tmp\n",
        "d/sub/f": "x\n"})
    os.chmod(ctx / "d", 0o750)
    os.chmod(ctx / "d/sub", 0o700)
    r = build({}, "-t", "dirmodes", context=ctx)
    assert r.returncode == 0, r
    out = imgtool("run", "dirmodes", "stat", "-c", "%n %a %u", "/c1", "/c2", "/c3", "/c1/sub", "/c2/sub", "/tmp")
    assert out.stdout.splitlines() == ["/c1 755 0", "/c2 755 0", "/c3 755 65534", "/c1/sub 700 0",
                                       "/c2/sub 600 0", "/tmp 1777 0"], out


def test_run_history_lists_every_declared_arg(build, busybox_store):
    from .conftest import config_of

    r = build({"Dockerfile": "FROM busybox\nARG VERSION=1.0\nARG UNSET\nARG SHADOWED=arg\nENV SHADOWED=env\n"
                             "RUN true\n"}, "--build-arg", "VERSION=2.5", "-t", "args")
    assert r.returncode == 0, r
    history = [h["created_by"] for h in config_of(busybox_store, "args")["history"]]
    assert history[-1] == "RUN |3 VERSION=2.5 UNSET= SHADOWED=env /bin/sh -c true # buildkit"


def test_scratch_stage_works_in_the_root_directory(build, busybox_store):
    from .conftest import config_of

    r = build({"Dockerfile": "FROM busybox AS b\nRUN echo x > /x\nFROM scratch\nCOPY --from=b /x /x\n"}, "-t", "s")
    assert r.returncode == 0, r
    assert config_of(busybox_store, "s")["config"]["WorkingDir"] == "/"


def test_tmpfs_size_and_cache_owner_and_mode(build, imgtool):
    r = build({"Dockerfile": "FROM busybox\n"
                             "RUN --mount=type=tmpfs,target=/t,size=1m df -k /t | awk 'NR==2 {print $2}' > /size\n"
                             "RUN --mount=type=cache,target=/c,uid=65534,gid=65534,mode=0700 stat -c '%u %g %a' /c > /c.txt\n"},
              "-t", "mountopts")
    assert r.returncode == 0, r
    assert imgtool("run", "mountopts", "cat", "/size", "/c.txt").stdout.split() == ["1024", "65534", "65534", "700"]


def test_bind_mount_of_a_file_from_an_image_or_stage(build, imgtool):
    r = build({"Dockerfile": "FROM busybox AS s\nRUN echo staged > /f\nFROM busybox\n"
                             "RUN --mount=type=bind,from=busybox,source=/etc/passwd,target=/p cp /p /passwd-copy\n"
                             "RUN --mount=type=bind,from=s,source=/f,target=/f,rw echo scribble >> /f && cat /f > /f-copy\n"},
              "-t", "filebind")
    assert r.returncode == 0, r
    out = imgtool("run", "filebind", "sh", "-c", "head -1 /passwd-copy; cat /f-copy; test ! -e /f && echo gone")
    assert out.stdout.split("\n")[:4] == ["root:x:0:0:root:/root:/bin/sh", "staged", "scribble", "gone"], out


def test_run_steps_get_the_host_resolv_conf_and_buildkits_hosts_but_layers_do_not(build, imgtool):
    r = build({"Dockerfile": "FROM busybox\nRUN cat /etc/resolv.conf /etc/hosts > /seen\n"}, "-t", "dns")
    assert r.returncode == 0, r
    # resolv.conf is the host's; /etc/hosts is BuildKit's own (checked against docker in the
    # differential case edge-whiteout), whatever the host's says
    with open("/etc/resolv.conf") as a:
        expected = a.read() + "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    out = imgtool("run", "dns", "cat", "/seen")
    assert out.stdout == expected, out
    # the layer itself (not a container, which gets its own resolv.conf/hosts) holds neither file
    import tarfile

    from imgtool.store import Store

    store = Store.open()
    layer = store.resolve("dns").layers[-1]
    with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        names = [m.name for m in tar]
    assert "seen" in names and not {"etc/resolv.conf", "etc/hosts"} & set(names), names


def test_quiet_build_skips_the_image_summary(busybox_store):
    """`-q` prints only the image ID: the summary (a scan of every layer) is not made at all."""
    from types import SimpleNamespace

    from imgtool.builder import hooks

    missing = SimpleNamespace(descriptor=SimpleNamespace(digest="sha256:" + "0" * 64), image_id="sha256:" + "0" * 64)
    hooks.after_build(busybox_store, missing, report=None)  # would fail to find the image if it scanned
    with pytest.raises(ImgtoolError):
        hooks.after_build(busybox_store, missing, report=print)


def test_image_summary_is_remembered_per_image(build, busybox_store, monkeypatch):
    """The summary scans every layer once per image: a rebuild to the same manifest (a cached
    build) reports the remembered line without reading a layer again."""
    from types import SimpleNamespace

    from imgtool.builder import hooks

    r = build({"Dockerfile": "FROM busybox\nRUN echo x > /x\n"}, "-t", "summed")
    assert r.returncode == 0, r
    entry = busybox_store.find("summed")
    result = SimpleNamespace(descriptor=entry.descriptor, image_id=busybox_store.load(entry.descriptor).id)
    monkeypatch.setenv("IMGTOOL_ROOT", str(busybox_store.path))
    lines: list[str] = []
    hooks.after_build(busybox_store, result, report=lines.append)  # remembered by the build already
    layer = busybox_store.load(entry.descriptor).layers[-1]
    busybox_store.blob_path(layer.digest).unlink()  # a scan would now fail to read the layer
    hooks.after_build(busybox_store, result, report=lines.append)
    assert len(lines) == 2 and lines[0] == lines[1] and lines[0].startswith("2 layers, "), lines
    assert lines[0] in r.stderr, r.stderr


def test_hardlinks_kept_within_a_copied_directory_not_across_sources(build, imgtool, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY d /d\nCOPY *.txt /g/\n",
                                            "d/f": "f\n", "a.txt": "a\n"})
    os.link(ctx / "d/f", ctx / "d/f2")
    os.link(ctx / "a.txt", ctx / "b.txt")
    assert build({}, "-t", "hl", context=ctx).returncode == 0
    out = imgtool("run", "hl", "stat", "-c", "%h", "/d/f", "/d/f2", "/g/a.txt", "/g/b.txt")
    assert out.stdout.split() == ["2", "2", "1", "1"], out


def test_expose_history_names_the_instruction_ports(build, busybox_store):
    from .conftest import config_of

    assert build({"Dockerfile": "FROM busybox\nEXPOSE 80 443/UDP\nEXPOSE 9000\n"}, "-t", "ex").returncode == 0
    history = [h["created_by"] for h in config_of(busybox_store, "ex")["history"]][-2:]
    assert history == ["EXPOSE map[443/udp:{} 80/tcp:{}]", "EXPOSE map[9000/tcp:{}]"]
