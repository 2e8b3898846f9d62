"""The blob-location cache: remembered for mounts, and not rewritten when it already knows."""

from imgtool.remote.blobcache import BlobLocations


def test_locations_are_remembered_newest_first(tmp_path):
    path = tmp_path / "blob-locations.json"
    first = BlobLocations(path)
    first.add("reg:5000", "a/one", "sha256:aa")
    first.save()
    second = BlobLocations(path)
    second.add("reg:5000", "b/two", "sha256:aa")
    second.save()
    assert BlobLocations(path).repositories("reg:5000", "sha256:aa") == ["b/two", "a/one"]


def test_a_repeated_transfer_does_not_rewrite_the_file(tmp_path):
    path = tmp_path / "blob-locations.json"
    first = BlobLocations(path)
    first.add("reg:5000", "a/one", "sha256:aa")
    first.add("reg:5000", "a/one", "sha256:bb")
    first.save()
    before = path.stat()
    again = BlobLocations(path)
    again.add("reg:5000", "a/one", "sha256:aa")
    again.add("reg:5000", "a/one", "sha256:aa")
    again.add("reg:5000", "a/one", "sha256:bb")
    again.save()
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # an older repository seen again moves to the front: that is news, and is written
    other = BlobLocations(path)
    other.add("reg:5000", "b/two", "sha256:aa")
    other.save()
    third = BlobLocations(path)
    third.add("reg:5000", "a/one", "sha256:aa")
    third.save()
    assert BlobLocations(path).repositories("reg:5000", "sha256:aa") == ["a/one", "b/two"]
