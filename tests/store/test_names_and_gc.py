"""The store as a user meets it (issue 14): unnamed images kept as <none>, all-or-nothing names,
rmi of a shared ID, prune of snapshots, system df, a racing first use, and bad input that is one
line, a non-zero exit and an index.json left byte for byte as it was."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time

import pytest

from tests.cli.test_bad_input import assert_clean_failure, oci_archive, tar_bytes


def listing(imgtool) -> list[dict]:
    """`imgtool images --format json`: one JSON object per line, docker's keys."""
    return [json.loads(line) for line in imgtool("images", "--format", "json", check=True).stdout.splitlines() if line]


def index_bytes(store) -> bytes:
    return (store.path / "index.json").read_bytes()


def members_of(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_load_without_a_name_is_kept_as_none_until_pruned(busybox_store, tmp_path, imgtool):
    def unname(members):
        index = json.loads(members["index.json"])
        index["manifests"][0].pop("annotations", None)
        members["index.json"] = json.dumps(index).encode()
        return members

    archive = oci_archive(tmp_path, busybox_store, imgtool, unname)
    imgtool("rmi", "busybox", check=True)
    imgtool("prune", check=True)
    loaded = imgtool("load", "-i", archive, check=True).stdout
    digest = loaded.split("Loaded image: ")[1].split()[0]
    rows = listing(imgtool)
    assert [(r["Repository"], r["Tag"], r["Digest"]) for r in rows] == [("<none>", "<none>", digest)]
    image_id = rows[0]["ID"]
    imgtool("save", image_id, "-o", tmp_path / "by-id.tar", check=True)  # addressable by ID
    imgtool("tag", image_id, "named:v1", check=True)  # naming it replaces the <none> entry
    assert [r["Repository"] for r in listing(imgtool)] == ["named"]
    imgtool("rmi", "named:v1", check=True)
    imgtool("load", "-i", archive, check=True)
    imgtool("prune", check=True)
    assert listing(imgtool) == []
    assert imgtool("save", image_id, "-o", tmp_path / "gone.tar").returncode != 0


def test_import_without_a_name_is_listed_as_none(store, busybox_rootfs, imgtool):
    digest = imgtool("import", busybox_rootfs, check=True).stdout.strip()
    assert [(r["Repository"], r["Digest"]) for r in listing(imgtool)] == [("<none>", digest)]
    assert imgtool("run", digest.removeprefix("sha256:")[:12], "true").returncode == 0


def test_load_is_all_or_nothing_on_names(busybox_store, tmp_path, imgtool):
    def two_names(members):
        index = json.loads(members["index.json"])
        first = index["manifests"][0]
        second = json.loads(json.dumps(first))
        second["annotations"]["org.opencontainers.image.ref.name"] = "Bad Name!"
        first["annotations"] = {"org.opencontainers.image.ref.name": "first:v1"}
        index["manifests"] = [first, second]
        members["index.json"] = json.dumps(index).encode()
        return members

    archive = oci_archive(tmp_path, busybox_store, imgtool, two_names)
    before = index_bytes(busybox_store)
    assert_clean_failure(imgtool("load", "-i", archive), r"Bad Name!")
    assert index_bytes(busybox_store) == before
    assert imgtool("save", "first:v1", "-o", tmp_path / "x.tar").returncode != 0


def test_docker_archive_load_is_all_or_nothing_on_names(busybox_store, tmp_path, imgtool):
    good = tmp_path / "docker.tar"
    imgtool("save", "busybox", "--format", "docker", "-o", good, check=True)
    members = members_of(good)
    entries = json.loads(members["manifest.json"])
    entries.append(dict(entries[0], RepoTags=["also:fine", "UPPER:case"]))
    entries[0]["RepoTags"] = ["first:v1"]
    members["manifest.json"] = json.dumps(entries).encode()
    bad = tmp_path / "bad-docker.tar"
    bad.write_bytes(tar_bytes(members))
    before = index_bytes(busybox_store)
    assert_clean_failure(imgtool("load", "-i", bad), r"UPPER:case")
    assert index_bytes(busybox_store) == before


def test_huge_number_in_an_archive_index_is_one_line(busybox_store, tmp_path, imgtool):
    def huge(members):
        text = members["index.json"].decode()
        members["index.json"] = text.replace('"schemaVersion":2', '"schemaVersion":' + "9" * 5000).encode()
        assert members["index.json"] != text.encode()
        return members

    archive = oci_archive(tmp_path, busybox_store, imgtool, huge)
    before = index_bytes(busybox_store)
    assert_clean_failure(imgtool("load", "-i", archive), r"index\.json: invalid JSON: a number too long")
    assert index_bytes(busybox_store) == before


@pytest.mark.parametrize("command", [["images"], ["import", "/dev/null", "-t", "x"], ["prune"], ["system", "df"]])
def test_store_root_that_is_a_regular_file(tmp_path, imgtool, command):
    root = tmp_path / "not-a-dir"
    root.write_bytes(b"precious")
    result = imgtool(*command, env={"IMGTOOL_ROOT": str(root)})
    assert_clean_failure(result, r"not-a-dir: the store root \(IMGTOOL_ROOT\) is not a directory")
    assert root.read_bytes() == b"precious"


def test_store_root_under_a_regular_file(tmp_path, imgtool):
    (tmp_path / "file").write_bytes(b"x")
    assert_clean_failure(imgtool("images", env={"IMGTOOL_ROOT": str(tmp_path / "file" / "store")}),
                         r"cannot use .*file/store as the store: Not a directory")


def test_rmi_of_an_id_with_several_names_needs_force(busybox_store, imgtool):
    imgtool("tag", "busybox", "other:v1", check=True)
    image_id = listing(imgtool)[0]["ID"]
    before = index_bytes(busybox_store)
    assert_clean_failure(imgtool("rmi", image_id),
                         rf"conflict: unable to delete {image_id} \(must be forced\) - image is referenced in "
                         r"multiple repositories \(busybox:latest, other:v1\)")
    assert index_bytes(busybox_store) == before
    imgtool("rmi", "other:v1", check=True)  # by name: just that name
    imgtool("tag", "busybox", "other:v1", check=True)
    out = imgtool("rmi", "-f", image_id, check=True).stdout
    assert "Untagged: busybox:latest" in out and "Untagged: other:v1" in out
    assert listing(imgtool) == []


def test_prune_frees_the_snapshots_of_removed_images(busybox_store, imgtool):
    assert imgtool("run", "--rm", "busybox", "true").returncode == 0
    layers = busybox_store.snapshots_dir / "layers"
    assert len(list(layers.iterdir())) == 1
    imgtool("prune", check=True)
    assert len(list(layers.iterdir())) == 1  # still named: kept
    df = imgtool("system", "df", "--format", "json", check=True).stdout
    rows = {r["kind"]: r for r in json.loads(df)}
    assert rows["Snapshots"]["total"] == 1 and rows["Snapshots"]["reclaimable"] == 0
    assert rows["Images"]["total"] == 1 and rows["Images"]["size"] > 0
    imgtool("rmi", "busybox", check=True)
    rows = {r["kind"]: r for r in json.loads(imgtool("system", "df", "--format", "json").stdout)}
    assert rows["Snapshots"]["reclaimable"] == rows["Snapshots"]["size"] > 0
    assert rows["Images"]["reclaimable"] == rows["Images"]["size"]
    out = imgtool("prune", check=True).stdout
    assert "1 snapshots" in out
    assert list(layers.iterdir()) == []
    table = imgtool("system", "df", check=True).stdout.splitlines()
    assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert table[1].split()[:4] == ["Images", "0", "0", "0B"]


def test_prune_keeps_what_a_running_container_mounts(busybox_store, tmp_path, imgtool):
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, "-m", "imgtool", "run", "--rm", "-v", f"{tmp_path}:/host", "busybox",
                             "sh", "-c", "touch /host/started; while [ ! -e /host/release ]; do sleep 0.05; done; "
                             "cat /bin/busybox >/dev/null"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # running, so its snapshots are unpacked and mounted (the container's directory appears at
        # create, before the monitor has unpacked anything)
        deadline = time.time() + 60
        while not (tmp_path / "started").exists() and time.time() < deadline:
            time.sleep(0.05)
        imgtool("rmi", "-f", "busybox", check=True)  # docker: -f for an image a container uses
        rows = {r["kind"]: r for r in json.loads(imgtool("system", "df", "--format", "json").stdout)}
        assert rows["Snapshots"]["active"] == 1 and rows["Snapshots"]["reclaimable"] == 0
        imgtool("prune", check=True)
        assert len(list((busybox_store.snapshots_dir / "layers").iterdir())) == 1
    finally:
        release.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    imgtool("prune", check=True)
    assert list((busybox_store.snapshots_dir / "layers").iterdir()) == []


def test_concurrent_first_use_of_an_empty_root(tmp_path):
    """Three processes open 30 fresh roots in lockstep: each must see a layout, never an error."""
    script = (
        "import sys, time\n"
        "from imgtool.store import Store\n"
        "base, start = sys.argv[1], float(sys.argv[2])\n"
        "for i in range(30):\n"
        "    time.sleep(max(0, start + i * 0.05 - time.time()))\n"
        "    Store.open(f'{base}/root-{i}').images()\n"
    )
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(start)],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
