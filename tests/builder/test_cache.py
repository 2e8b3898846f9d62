"""The build cache: content keys, persistence across processes, concurrent builds, reproducibility."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import write_context

LAYERED = """\
FROM busybox
RUN echo step-one-ran && echo 1 > /one
COPY dep.txt /dep.txt
RUN echo step-two-ran && cat /dep.txt > /two
COPY src.txt /src.txt
RUN echo step-three-ran
"""


def _output(result, word: str) -> bool:
    """Whether a RUN printed `word` (a `#N 0.123 word` progress line, not the step's name)."""
    return re.search(rf"^#\d+ \d+\.\d+ {word}$", result.stderr, re.M) is not None


def _ran(result) -> set[str]:
    return {w for w in ("step-one-ran", "step-two-ran", "step-three-ran") if _output(result, w)}


def test_rebuild_mtime_and_one_changed_file(build, tmp_path):
    ctx = write_context(tmp_path / "c", {"Dockerfile": LAYERED, "dep.txt": "dep\n", "src.txt": "src\n"})
    first = build({}, "-t", "c:1", context=ctx)
    assert first.returncode == 0, first
    assert _ran(first) == {"step-one-ran", "step-two-ran", "step-three-ran"}

    again = build({}, "-t", "c:1", context=ctx)  # a new process: the cache is on disk
    assert again.returncode == 0, again
    assert _ran(again) == set(), again.stderr
    assert again.stderr.count("CACHED") == 5, again.stderr

    for name in ("dep.txt", "src.txt", "Dockerfile"):
        os.utime(ctx / name, (1_000_000, 1_000_000))
    touched = build({}, "-t", "c:1", context=ctx)
    assert _ran(touched) == set() and touched.stderr.count("CACHED") == 5, touched.stderr

    (ctx / "src.txt").write_text("changed\n")
    changed = build({}, "-t", "c:1", context=ctx)
    assert changed.returncode == 0, changed
    assert _ran(changed) == {"step-three-ran"}, changed.stderr
    assert changed.stderr.count("CACHED") == 3, changed.stderr

    (ctx / "dep.txt").write_text("dep2\n")
    dep = build({}, "-t", "c:1", context=ctx)
    assert _ran(dep) == {"step-two-ran", "step-three-ran"}, dep.stderr

    no_cache = build({}, "-t", "c:1", "--no-cache", context=ctx)
    assert _ran(no_cache) == {"step-one-ran", "step-two-ran", "step-three-ran"}
    assert "CACHED" not in no_cache.stderr


def test_a_miss_does_not_stop_later_hits(build, tmp_path):
    """A step whose key changed but whose layer is the same lets the next steps hit again."""
    ctx = write_context(tmp_path / "m", {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo later-ran\n",
                                         "f": "same\n", "g": "same\n"})
    assert build({}, "-t", "m", context=ctx).returncode == 0
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY g /f\nRUN echo later-ran\n")
    other = build({}, "-t", "m", context=ctx)
    assert other.returncode == 0, other
    assert "#2 CACHED" not in other.stderr, other.stderr  # the COPY ran again...
    assert not _output(other, "later-ran") and "#3 CACHED" in other.stderr, other.stderr  # ...the RUN hit


def test_proxy_build_args_stay_out_of_the_key(build, tmp_path):
    """Switching the proxy (an undeclared HTTP_PROXY build arg) is a hit, as in BuildKit; the RUN
    saw it in both spellings when it ran. A declared ARG of the same name is part of the key."""
    ctx = write_context(tmp_path / "p", {"Dockerfile": "FROM busybox\nRUN echo proxy-$http_proxy-ran\n"
                                                        "ARG HTTP_PROXY\nRUN echo declared-ran\n"})
    first = build({}, "-t", "p", "--build-arg", "HTTP_PROXY=one", context=ctx)
    assert first.returncode == 0, first
    assert _output(first, "proxy-one-ran") and _output(first, "declared-ran"), first.stderr
    second = build({}, "-t", "p", "--build-arg", "HTTP_PROXY=two", context=ctx)
    assert second.returncode == 0, second
    assert not _output(second, "proxy-two-ran") and "#2 CACHED" in second.stderr, second.stderr
    assert _output(second, "declared-ran"), second.stderr


def test_two_builds_at_once_on_one_store(busybox_store, tmp_path):
    procs = []
    for i in range(2):
        ctx = write_context(tmp_path / f"p{i}", {
            "Dockerfile": f"FROM busybox\nRUN echo shared > /shared\nCOPY f /f\nRUN sleep 0.5; echo {i} > /i\n",
            "f": f"{i}\n"})
        procs.append(subprocess.Popen([sys.executable, "-m", "imgtool", "build", "--progress", "plain", "-t", f"par:{i}",
                                       str(ctx)], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    for i in range(2):
        out = subprocess.run([sys.executable, "-m", "imgtool", "run", f"par:{i}", "cat", "/shared", "/f", "/i"],
                             capture_output=True, timeout=120)
        assert out.stdout.decode() == f"shared\n{i}\n{i}\n", out
    again = subprocess.run([sys.executable, "-m", "imgtool", "build", "--progress", "plain", "-t", "par:0",
                            str(tmp_path / "p0")], capture_output=True, timeout=300)
    assert again.returncode == 0 and again.stderr.decode().count("CACHED") == 3, again.stderr.decode()


def test_copy_only_build_is_reproducible_across_checkouts(build, busybox_store, tmp_path):
    files = {"Dockerfile": "FROM busybox\nWORKDIR /srv\nCOPY . .\nENV A=1\nCMD [\"ls\"]\n",
             "a.txt": "a\n", "sub/b.txt": "b\n"}
    digests = []
    for i, when in enumerate((1_000_000, 1_700_000_000)):
        ctx = write_context(tmp_path / f"r{i}", files)
        for dirpath, dirnames, filenames in os.walk(ctx):
            for name in dirnames + filenames:
                os.utime(os.path.join(dirpath, name), (when, when))
        r = build({}, "-t", f"repro:{i}", "--no-cache", context=ctx)
        assert r.returncode == 0, r
        digests.append(busybox_store.find(f"repro:{i}").descriptor.digest)
    assert digests[0] == digests[1]


def test_builder_prune_empties_the_cache(build, imgtool, tmp_path):
    ctx = write_context(tmp_path / "p", {"Dockerfile": "FROM busybox\nRUN echo prune-me\n"})
    assert build({}, "-t", "pr", context=ctx).returncode == 0
    pruned = imgtool("builder", "prune", "-f")
    assert pruned.returncode == 0 and pruned.stdout.startswith("Total:"), pruned
    again = build({}, "-t", "pr", context=ctx)
    assert _output(again, "prune-me"), again.stderr
    assert "CACHED" not in again.stderr, again.stderr


def test_builder_prune_keeps_what_a_running_container_uses(build, imgtool, busybox_store, tmp_path):
    """The built image lost its name, but a container still runs on its snapshots: prune keeps them."""
    from imgtool.oci.config import chain_ids
    from imgtool.store.gc import dirname

    ctx = write_context(tmp_path / "l", {"Dockerfile": "FROM busybox\nRUN echo kept > /kept\n"})
    assert build({}, "-t", "lease:1", context=ctx).returncode == 0
    chain = dirname(chain_ids(list(busybox_store.resolve("lease:1").config.diff_ids))[-1])
    snapshot = busybox_store.snapshots_dir / "layers" / chain
    cid = imgtool("run", "-d", "lease:1", "sleep", "300", check=True).stdout.strip()
    try:
        imgtool("rmi", "-f", "lease:1", check=True)
        assert imgtool("builder", "prune", "-f").returncode == 0
        assert snapshot.is_dir(), "builder prune removed a running container's snapshot"
        assert imgtool("exec", cid, "cat", "/kept", check=True).stdout == "kept\n"
    finally:
        imgtool("rm", "-f", cid)
    # the image is <none> now, still an image: builder prune keeps it (docker's builder prune never
    # removes images); `imgtool prune` removes the unnamed image, and the snapshot with it
    assert imgtool("builder", "prune", "-f").returncode == 0
    assert snapshot.is_dir(), "builder prune removed the snapshot of an untagged image"
    assert imgtool("prune").returncode == 0
    assert not snapshot.exists(), "the snapshot outlived its last user"


def _cached(result, step: str) -> bool:
    """Whether the step whose progress name ends with `step` printed CACHED."""
    m = re.search(rf"^#(\d+) \[[^\]]*\] {re.escape(step)}$", result.stderr, re.M)
    assert m, result.stderr
    return re.search(rf"^#{m.group(1)} CACHED$", result.stderr, re.M) is not None


def test_copy_from_is_keyed_by_the_content_it_copies(build, busybox_store, tmp_path):
    """BuildKit keys COPY --from by what it selects: a stage that re-ran and made the same files
    leaves the final stage cached (and the image unchanged); different files miss."""
    dockerfile = "FROM busybox AS gen\nCOPY gen.sh /gen.sh\nRUN sh /gen.sh\n\nFROM busybox\nCOPY --from=gen /out /data\n"
    ctx = write_context(tmp_path / "f", {"Dockerfile": dockerfile,
                                         "gen.sh": "echo gen-ran; mkdir -p /out/sub; echo one > /out/sub/a\n"})
    first = build({}, "-t", "cf:1", context=ctx)
    assert first.returncode == 0, first
    with open(ctx / "gen.sh", "a") as f:
        f.write("# a comment: the script changes, what it makes does not\n")
    again = build({}, "-t", "cf:2", context=ctx)
    assert again.returncode == 0, again
    assert _output(again, "gen-ran"), again.stderr
    assert _cached(again, "COPY --from=gen /out /data"), again.stderr
    assert busybox_store.find("cf:1").descriptor.digest == busybox_store.find("cf:2").descriptor.digest
    (ctx / "gen.sh").write_text("echo gen-ran; mkdir -p /out/sub; echo two > /out/sub/a\n")
    changed = build({}, "-t", "cf:3", context=ctx)
    assert changed.returncode == 0, changed
    assert not _cached(changed, "COPY --from=gen /out /data"), changed.stderr
    assert busybox_store.find("cf:3").descriptor.digest != busybox_store.find("cf:1").descriptor.digest


def test_builder_prune_leaves_untagged_images_whole(build, imgtool, busybox_store, tmp_path):
    """An image built without -t is `<none>` in `imgtool images`, not cache: `docker builder prune`
    never removes images, and neither may ours take the layers from under one."""
    ctx = write_context(tmp_path / "u", {"Dockerfile": "FROM busybox\nRUN echo untagged > /u\n"})
    built = build({}, "-q", context=ctx)
    assert built.returncode == 0, built
    image_id = built.stdout.strip()
    assert imgtool("builder", "prune", "-f").returncode == 0
    listed = imgtool("images")
    assert listed.returncode == 0, listed
    assert "<none>" in listed.stdout, listed.stdout
    ran = imgtool("run", "--rm", image_id, "cat", "/u")
    assert ran.returncode == 0 and ran.stdout == "untagged\n", ran
