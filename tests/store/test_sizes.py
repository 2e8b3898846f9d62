"""docker's SIZE: content bytes of an image's regular files, measured once per layer and cached."""

from __future__ import annotations

import tarfile

from imgtool.store.sizes import image_content_size, layer_content_size


def test_size_is_the_content_of_regular_files_and_is_cached(busybox_store, busybox_rootfs):
    with tarfile.open(busybox_rootfs) as tar:
        seen, expected = set(), 0
        for member in tar:
            if member.isreg() and member.name not in seen:
                seen.add(member.name)
                expected += member.size
    image = busybox_store.resolve("busybox")
    assert image_content_size(busybox_store, image) == expected
    cache = busybox_store.path / "sizes" / image.layers[0].diff_id.encoded
    assert cache.read_text() == str(expected)
    cache.write_text("not a number")  # a damaged entry is measured again, never trusted
    assert layer_content_size(busybox_store, image.layers[0]) == expected
    assert cache.read_text() == str(expected)


def test_images_shows_content_size_and_relative_creation(busybox_store, imgtool):
    from imgtool.inspect.docker import human_size

    out = imgtool("images", check=True).stdout.splitlines()
    size = image_content_size(busybox_store, busybox_store.resolve("busybox"))
    assert out[1].split()[:2] == ["busybox", "latest"]
    assert out[1].endswith(human_size(size)) and " ago " in out[1]


def test_images_formats_are_dockers(busybox_store, imgtool):
    import json

    [row] = [json.loads(line) for line in imgtool("images", "--format", "json", check=True).stdout.splitlines()]
    assert set(row) == {"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize",
                        "Size", "Tag", "UniqueSize", "VirtualSize"}
    assert (row["Repository"], row["Tag"], len(row["ID"])) == ("busybox", "latest", 12)
    assert row["CreatedAt"].endswith(" +0000 UTC") and row["CreatedSince"].endswith(" ago")
    assert imgtool("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout == "busybox:latest\n"
    table = imgtool("images", "--format", r"table {{.ID}}\t{{.Size}}", check=True).stdout.splitlines()
    assert table[0].split() == ["IMAGE", "ID", "SIZE"] and table[1].split() == [row["ID"], row["Size"]]
    assert imgtool("images", "-q", check=True).stdout.split() == [row["ID"]]
