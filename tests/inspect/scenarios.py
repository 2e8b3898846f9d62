"""Images with known content for the layer metrics: sizes chosen so every figure is hand-checkable."""

from __future__ import annotations

from .imagespec import Spec, directory, file, opaque, whiteout

SOMEFILE = 6405          # the size of dive's README.md in its test image
BASE_BYTES = 1_154_361   # dive's test image: 1,220,598 total - 66,237 user bytes
SCRIPTS_BYTES = 2_187    # dive's .scripts/ directory: 66,237 - 10 x 6,405


def dive_test_image() -> Spec:
    """dive's .data/Dockerfile.test-image, rebuilt with tarfile-level control (layers as docker writes them)."""
    s = Spec()
    some = b"x" * SOMEFILE
    base = [directory("/bin"), directory("/root"), directory("/tmp"), directory("/etc")]
    base += [file(f"/bin/tool{i}", b"b" * (BASE_BYTES // 7 + (BASE_BYTES % 7 if i == 0 else 0))) for i in range(7)]
    s.layer("ADD file:busybox in /", *base)
    s.layer("ADD README.md /somefile.txt", file("/somefile.txt", some))
    s.layer("RUN mkdir -p /root/example/really/nested", directory("/root"), directory("/root/example"),
            directory("/root/example/really"), directory("/root/example/really/nested"))
    s.layer("RUN cp /somefile.txt /root/example/somefile1.txt", directory("/root"), directory("/root/example"),
            file("/root/example/somefile1.txt", some))
    s.layer("RUN chmod 444 /root/example/somefile1.txt", directory("/root"), directory("/root/example"),
            file("/root/example/somefile1.txt", some, 0o444))
    s.layer("RUN cp /somefile.txt /root/example/somefile2.txt", directory("/root"), directory("/root/example"),
            file("/root/example/somefile2.txt", some))
    s.layer("RUN cp /somefile.txt /root/example/somefile3.txt", directory("/root"), directory("/root/example"),
            file("/root/example/somefile3.txt", some))
    s.layer("RUN mv /root/example/somefile3.txt /root/saved.txt", directory("/root"), directory("/root/example"),
            whiteout("/root/example/somefile3.txt"), file("/root/saved.txt", some))
    s.layer("RUN cp /root/saved.txt /root/.saved.txt", directory("/root"), file("/root/.saved.txt", some))
    s.layer("RUN rm -rf /root/example/", directory("/root"), whiteout("/root/example"))
    s.layer("ADD .scripts/ /root/.data/", directory("/root"), directory("/root/.data"),
            file("/root/.data/tag.sh", b"s" * 1000), file("/root/.data/test.sh", b"t" * (SCRIPTS_BYTES - 1000)))
    s.layer("RUN cp /root/saved.txt /tmp/saved.again1.txt", directory("/tmp"), file("/tmp/saved.again1.txt", some))
    s.layer("RUN cp /root/saved.txt /root/.data/saved.again2.txt", directory("/root"), directory("/root/.data"),
            file("/root/.data/saved.again2.txt", some))
    s.layer("RUN chmod +x /root/saved.txt", directory("/root"), file("/root/saved.txt", some, 0o755))
    return s


def added_then_deleted(size: int = 10_000_000) -> Spec:
    """A 10 MB file added by one layer and removed by the next."""
    s = Spec()
    s.layer("ADD base", directory("/etc"), file("/etc/os-release", "ID=test\n"))
    s.layer("RUN curl -o /data/big.bin", directory("/data"), file("/data/big.bin", b"\0" * size))
    s.layer("RUN rm /data/big.bin", directory("/data"), whiteout("/data/big.bin"))
    return s


def overwritten_twice() -> Spec:
    """One path written by three layers: the first two copies ship but are invisible."""
    s = Spec()
    s.layer("ADD base", directory("/etc"), file("/etc/app.conf", b"a" * 1000))
    s.layer("RUN configure", directory("/etc"), file("/etc/app.conf", b"b" * 2000))
    s.layer("RUN configure again", directory("/etc"), file("/etc/app.conf", b"c" * 3000))
    return s


def opaque_directory() -> Spec:
    """A directory emptied by an opaque marker (what `rm -rf d && mkdir d` gives on overlayfs)."""
    s = Spec()
    s.layer("ADD cache", directory("/var/cache"), file("/var/cache/a", b"a" * 4000), file("/var/cache/b", b"b" * 6000))
    s.layer("RUN rm -rf /var/cache && mkdir /var/cache", directory("/var/cache"), opaque("/var/cache"),
            file("/var/cache/c", b"c" * 100))
    return s
