"""What a crash must not lose once the client has its 201: observed as the fsyncs the filesystem
backend really makes (under strace), since a power cut cannot be staged in a test."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")

_COMMIT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from imgtool.oci.digest import of_bytes
    from registry.storage.filesystem import FilesystemStorage

    storage = FilesystemStorage(Path(sys.argv[1]))
    data = b"layer bytes"
    upload = storage.start_upload("team/app", "", "sha256")
    storage.append(upload, [data])
    storage.commit_upload(upload, of_bytes(data))
    storage.link_blob("other/app", of_bytes(data))  # a mount: the same link file, another repository
""")


def _synced_dirs(root: Path) -> set[str]:
    """Directories under `root` fsynced while committing one upload and mounting it elsewhere."""
    trace = subprocess.run(
        ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", sys.executable, "-c", _COMMIT, str(root)],
        capture_output=True, text=True, check=True,
    ).stderr
    synced = set()
    for line in trace.splitlines():
        if "fsync(" in line and f"<{root}/" in line:
            path = line.split("<", 1)[1].split(">", 1)[0]
            if Path(path).is_dir():
                synced.add(str(Path(path).relative_to(root)))
    return synced


def test_a_new_layer_link_and_the_folders_made_for_it_are_synced(tmp_path):
    synced = _synced_dirs(tmp_path)
    for repository in ("team/app", "other/app"):
        assert f"repositories/{repository}/_layers/sha256" in synced
        assert f"repositories/{repository}/_layers" in synced
        assert f"repositories/{repository}" in synced
