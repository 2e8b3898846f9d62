"""The blob-location cache: remembered for mounts, and not rewritten when it already knows."""

from imgtool.remote.blobcache import BlobLocations


def _saved(path, *seen: tuple[str, str]) -> None:
    """One command's cache: the (repository, digest) pairs it saw on reg:5000, then saved."""
    cache = BlobLocations(path)
    for repository, digest in seen:
        cache.add("reg:5000", repository, digest)
    cache.save()


def test_locations_are_remembered_newest_first(tmp_path):
    path = tmp_path / "blob-locations.json"
    _saved(path, ("a/one", "sha256:aa"))
    _saved(path, ("b/two", "sha256:aa"))
    assert BlobLocations(path).repositories("reg:5000", "sha256:aa") == ["b/two", "a/one"]


def test_a_repeated_transfer_does_not_rewrite_the_file(tmp_path):
    path = tmp_path / "blob-locations.json"
    _saved(path, ("a/one", "sha256:aa"), ("a/one", "sha256:bb"))
    before = path.stat()
    _saved(path, ("a/one", "sha256:aa"), ("a/one", "sha256:aa"), ("a/one", "sha256:bb"))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # an older repository seen again moves to the front: that is news, and is written
    _saved(path, ("b/two", "sha256:aa"))
    _saved(path, ("a/one", "sha256:aa"))
    assert BlobLocations(path).repositories("reg:5000", "sha256:aa") == ["a/one", "b/two"]
