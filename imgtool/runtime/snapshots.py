"""Layer snapshots: each layer unpacked once per ChainID under the store, shared by every container.

Layout under `<store>/snapshots`:
  layers/<alg>-<hex>/fs     the layer's own changes, as an overlayfs layer (whiteouts are 0/0 char
                            devices, opaque directories carry trusted.overlay.opaque)
  full/<alg>-<hex>/fs       a complete flattened rootfs, used only where overlayfs is unavailable
  containers/<id>/{upper,work}  a container's writable layer

Why apply a layer *through* an overlay mount of its parents instead of into an empty directory:
the kernel then resolves symlinks, hardlinks and whiteouts against the real lower content (a layer
writing `localetc/x` where a lower layer made `localetc -> /etc` lands in `etc`), and writes the
whiteouts in exactly the format it reads back. The mount lives in a forked child's private mount
namespace, so a crash never leaves a mount behind. A snapshot is built in `<store>/tmp` and renamed
into place, so a ChainID directory that exists is complete.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imgtool import atomicfile
from imgtool.errors import ImgtoolError, LayerError
from imgtool.layer.layer import Layer
from imgtool.oci.config import chain_ids
from imgtool.oci.digest import Digest
from imgtool.store.gc import LEASE_FILE
from imgtool.store.gc import dirname as _dirname

from . import syscalls
from .applier import apply


def in_private_mounts(fn: Callable[[], Any]) -> Any:
    """Run `fn` in a forked child with a private mount namespace and return its (pickled) result.

    Why: mounts made for the duration of one job vanish with the namespace even if we are killed.
    An ImgtoolError in the child is re-raised here with its message; anything else becomes one.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 0
        try:
            syscalls.unshare(syscalls.CLONE_NEWNS)
            syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            payload = ("ok", fn())
        except BaseException as exc:  # reported to the parent, never propagated in a forked child
            payload = ("err", (type(exc).__name__, str(exc), isinstance(exc, ImgtoolError)))
            code = 1
        try:
            with os.fdopen(wfd, "wb") as out:
                pickle.dump(payload, out)
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    if not data:
        raise ImgtoolError("snapshot helper died without a result")
    kind, value = pickle.loads(data)
    if kind == "ok":
        return value
    name, message, typed = value
    raise LayerError(message if typed else f"{name}: {message}")


_overlay_ok: bool | None = None
PROBE_FILE = ".overlay-probe"  # in the snapshots root: the probe's answer for this boot


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def overlay_supported(scratch: Path, remember: Path | None = None) -> bool:
    """Whether overlayfs can be mounted here (probed in a throwaway namespace, once per process).

    `remember`: a file keeping the answer for this boot and this scratch filesystem, so that each
    `imgtool run` does not pay for the probe again: forking a mount namespace and tearing it down
    costs 5-80 ms on a loaded host, on the path of every container start. A new boot (another
    kernel, other modules) or a store moved to another filesystem probes afresh.
    """
    global _overlay_ok
    if _overlay_ok is not None:
        return _overlay_ok
    key = f"{_boot_id()} {os.stat(scratch).st_dev}"
    if remember is not None:
        try:
            seen, _, answer = remember.read_text().rpartition(" ")
            if seen == key and answer in ("yes", "no"):
                _overlay_ok = answer == "yes"
                return _overlay_ok
        except OSError:
            pass
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for sub in ("l", "u", "w", "m"):
            os.mkdir(os.path.join(tmp, sub))
        try:
            in_private_mounts(lambda: mount_overlay([Path(tmp, "l")], Path(tmp, "u"), Path(tmp, "w"),
                                                    Path(tmp, "m")))
            _overlay_ok = True
        except ImgtoolError:
            _overlay_ok = False
    if remember is not None:
        try:
            atomicfile.write_bytes(remember, f"{key} {'yes' if _overlay_ok else 'no'}".encode(), durable=False)
        except OSError:
            pass  # a read-only store probes every time
    return _overlay_ok


def mount_overlay(lowers: list[Path], upper: Path | None, work: Path | None, target: Path | str) -> None:
    """Mount an overlay of `lowers` (top first) with an optional writable upper at `target`.

    Lower paths are passed relative to their common parent after a chdir, so many layers still fit
    in the one page of mount data (containerd's compactLowerdirOption).
    """
    base = os.path.commonpath([str(p) for p in lowers])
    if len(lowers) == 1:
        base = os.path.dirname(base)
    cwd = os.open(".", os.O_PATH | os.O_CLOEXEC)
    try:
        os.chdir(base)
        lowerdir = ":".join(os.path.relpath(p, base) for p in lowers)
        opts = f"lowerdir={lowerdir}"
        if upper is not None and work is not None:
            opts += f",upperdir={upper},workdir={work}"
        # redirect_dir and metacopy would record renames and metadata-only copy-ups as xattrs that a
        # layer diff cannot express (layer/overlay.py refuses them); index=off: no inode index
        extra = ",index=off,redirect_dir=off,metacopy=off"
        try:
            syscalls.mount("overlay", os.fspath(target), "overlay", 0, opts + extra)
        except OSError:
            syscalls.mount("overlay", os.fspath(target), "overlay", 0, opts)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


class Snapshots:
    """The snapshot area of one store."""

    def __init__(self, root: Path, scratch: Path):
        self.root = root
        self.scratch = scratch
        for sub in ("layers", "full", "containers"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)

    def prepare(self, layers: list[Layer]) -> list[Path]:
        """Ensure every layer of the stack is unpacked; returns the `fs` dirs to mount, top first.

        Without overlayfs it returns one directory: the flattened rootfs for the whole stack.
        """
        chains = chain_ids([layer.diff_id for layer in layers])
        if not overlay_supported(self.scratch, self.root / PROBE_FILE):
            return [self._full(layers, chains)] if layers else []
        dirs: list[Path] = []
        for layer, chain in zip(layers, chains):
            path = self.root / "layers" / _dirname(chain)
            if not path.exists():
                self.publish(path, lambda fs, lowers=list(dirs), layer=layer: self._apply_over(layer, fs, lowers))
            dirs.insert(0, path / "fs")
        return dirs

    def _full(self, layers: list[Layer], chains: list[Digest]) -> Path:
        """The fallback: a complete copy per ChainID, made from the parent's copy plus one layer."""
        parent: Path | None = None
        for layer, chain in zip(layers, chains):
            path = self.root / "full" / _dirname(chain)
            if not path.exists():
                def build(fs: Path, parent: Path | None = parent, layer: Layer = layer) -> None:
                    if parent is not None:
                        os.rmdir(fs)
                        subprocess.run(["cp", "-a", "--reflink=auto", str(parent), str(fs)], check=True)
                    apply(layer, fs)
                self.publish(path, build)
            parent = path / "fs"
        assert parent is not None
        return parent

    def _apply_over(self, layer: Layer, fs: Path, lowers: list[Path]) -> None:
        """Apply one layer into `fs`, through an overlay of `lowers` when there are any."""
        if not lowers:
            apply(layer, fs)
            return
        work, merged = fs.parent / "work", fs.parent / "merged"
        work.mkdir()
        merged.mkdir()

        def job() -> None:
            mount_overlay(lowers, fs, work, merged)
            apply(layer, merged)
            syscalls.umount(str(merged))

        try:
            in_private_mounts(job)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            merged.rmdir()

    def publish(self, dest: Path, fill: Callable[[Path], None]) -> None:
        """Fill a fresh `fs` in scratch, then rename it into place as snapshot `dest`.

        Why staged: a snapshot dir that exists is complete, so readers never see half of one. A
        concurrent builder may publish the same snapshot first; then ours is dropped and theirs kept.
        """
        staging = Path(tempfile.mkdtemp(prefix="snapshot-", dir=self.scratch))
        try:
            fs = staging / "fs"
            fs.mkdir()
            fill(fs)
            try:
                os.rename(staging, dest)
            except OSError:
                if not dest.exists():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def container_dirs(self, container_id: str, lowers: list[Path] = ()) -> tuple[Path, Path]:  # type: ignore[assignment]
        """Fresh (upper, work) directories for a container's writable layer, and its lease on the
        snapshots it mounts (`lowers`), which prune honours while the container exists."""
        base = self.root / "containers" / container_id
        base.mkdir(parents=True)
        (base / LEASE_FILE).write_text("".join(f"{p.parent.name}\n" for p in lowers))
        (base / "upper").mkdir()
        (base / "work").mkdir()
        return base / "upper", base / "work"

    def remove_container(self, container_id: str) -> None:
        """Delete a container's writable layer (idempotent)."""
        shutil.rmtree(self.root / "containers" / container_id, ignore_errors=True)


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000
_spread_done: set[Path] = set()


def spread(directory: Path) -> None:
    """Mark `directory` as a top of directory hierarchies (`chattr +T`), where the filesystem has it.

    Why: each step's upper dir (and each snapshot being unpacked) is a new, unrelated tree, and
    ext4's allocator then places it as it places top-level dirs, in a little-used group, instead of
    in the group of its parent. Without a journal, ext4 skips inodes freed in the last minute or
    more when it picks one, scanning past each of them for every file it creates; a store's own
    group is full of those after a prune, a rebuild or any test run nearby. `RUN` writing 2,000
    files took 1.5 s there and 0.08 s with the flag (same machine, same minute). A hint only: any
    filesystem without the flag (tmpfs, xfs, overlay) is left as it is.
    """
    if directory in _spread_done:
        return
    import array
    import fcntl

    try:
        directory.mkdir(parents=True, exist_ok=True)  # a fresh store's first step: mark it before use
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    _spread_done.add(directory)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & _FS_TOPDIR_FL:
            flags[0] |= _FS_TOPDIR_FL
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags, True)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_out(lowers: list[Path], source: str, dest: Path) -> Path:
    """Copy one directory or file of the layered filesystem `lowers` (top first) to `dest`, which
    must not exist yet; returns `dest`. A RUN --mount=type=bind,from= source: BuildKit mounts
    that stage's own tree, so owners, modes and links are kept (`cp -a`, as the full-copy
    snapshots are made), and `source` is resolved inside the stage (its links never reach the host)."""
    merged = dest.with_name(dest.name + ".merged")
    merged.mkdir()

    def job() -> None:
        if len(lowers) == 1:
            os.rmdir(merged)
            os.symlink(lowers[0], merged)
        else:
            mount_overlay(lowers, None, None, merged)
        from .resolve import Root

        with Root(merged) as root:
            try:
                fd = root.open_file(source.strip("/"), os.O_RDONLY)  # a directory opens too
            except (FileNotFoundError, NotADirectoryError):
                raise ImgtoolError(f'--mount source "{source}": not found') from None  # BuildKit's words
            try:
                # cp reaches our fd through our pid (its own /proc/self is cp's): a directory's
                # contents through the fd's path, a file by dereferencing the fd link
                path = f"/proc/{os.getpid()}/fd/{fd}"
                src = [f"{path}/."] if stat.S_ISDIR(os.fstat(fd).st_mode) else ["-L", path]
                done = subprocess.run(["cp", "-a", *src, str(dest)], capture_output=True, text=True)
                if done.returncode != 0:
                    raise ImgtoolError(f'--mount source "{source}": {done.stderr.strip()}')
            finally:
                os.close(fd)

    in_private_mounts(job)
    return dest
