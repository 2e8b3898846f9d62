"""The local content store: named images in an OCI image layout at $IMGTOOL_ROOT.

Names live in index.json as `org.opencontainers.image.ref.name` (docker's short form, `busybox`,
`host:5000/app:v1`) so `skopeo ... oci:$IMGTOOL_ROOT:busybox` and umoci read the store as it is, plus
`io.containerd.image.name` with the fully qualified name. Entries written by other tools (skopeo
writes a bare tag) are read too: their ref.name is normalised like any reference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterable, Sequence

from imgtool.errors import ImgtoolError, InvalidReferenceError, NotFoundError
from imgtool.frozen import frozen
from imgtool.oci import reference
from imgtool.oci import mediatype
from imgtool.oci.descriptor import Descriptor, Platform
from imgtool.oci.digest import Digest
from imgtool.oci.manifest import (
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Index, parse_document, references, sniff_media_type,
)

from . import blobs, layout

if TYPE_CHECKING:  # images and layers are loaded on demand: listing names needs neither (start-up)
    from imgtool.layer.layer import Layer

    from . import gc
    from .image import Image
    from .validated import ValidatedDigests

_ID_PREFIX = re.compile(r"^(sha256:)?[a-f0-9]{4,64}$")


def default_root() -> Path:
    """$IMGTOOL_ROOT, else $XDG_DATA_HOME/imgtool, else ~/.local/share/imgtool."""
    if os.environ.get("IMGTOOL_ROOT"):
        return Path(os.environ["IMGTOOL_ROOT"])
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "imgtool"


@frozen
class NamedImage:
    """An index.json entry: the name as stored, its normalised form, and the descriptor."""

    name: str | None
    normalized: str | None
    descriptor: Descriptor

    @property
    def shown(self) -> str:
        """The name as docker prints it (`busybox:latest`), or the digest of an unnamed entry."""
        if self.normalized is None:
            return str(self.descriptor.digest)
        try:
            return reference.parse(self.normalized).familiar_tagged
        except InvalidReferenceError:
            return self.name or self.normalized


def _entry_names(entry: Descriptor) -> tuple[str | None, str | None]:
    shown = entry.annotations.get(ANNOTATION_REF_NAME)
    full = entry.annotations.get(ANNOTATION_IMAGE_NAME) or shown
    if full is None:
        return None, None
    try:
        normalized = str(reference.parse(full))
    except InvalidReferenceError:
        normalized = full
    return shown or full, normalized


def name_annotations(ref: reference.Reference) -> dict[str, str]:
    """The index annotations that name an image (short form for skopeo/umoci, full for containerd)."""
    return {ANNOTATION_REF_NAME: ref.familiar, ANNOTATION_IMAGE_NAME: str(ref)}


def _unnamed(annotations: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in annotations.items() if k not in (ANNOTATION_REF_NAME, ANNOTATION_IMAGE_NAME)}


def _checked_ref(descriptor: Descriptor, name: str) -> reference.Reference:
    ref = reference.parse(name)
    if ref.digest is not None and ref.tag is None and ref.digest != descriptor.digest:
        raise InvalidReferenceError(f"{name}: digest does not match the image {descriptor.digest}")
    return ref


@frozen
class Store:
    """Handle on a store directory. Cheap to create; all state is on disk."""

    path: Path

    @classmethod
    def open(cls, root: Path | str | None = None) -> "Store":
        """Open (creating if needed) the store at `root` or the default location."""
        path = Path(root) if root is not None else default_root()
        layout.init(path)
        (path / layout.TMP_DIR).mkdir(exist_ok=True)
        return cls(path)

    # -- blobs ---------------------------------------------------------------------------------
    def blob_path(self, digest: Digest) -> Path:
        """Where a blob lives (it may not exist)."""
        return layout.blob_path(self.path, digest)

    def has_blob(self, digest: Digest) -> bool:
        """True if the blob is present."""
        return self.blob_path(digest).exists()

    def open_blob(self, digest: Digest) -> BinaryIO:
        """Open a blob for streaming."""
        return layout.open_blob(self.path, digest)

    def layer(self, descriptor: Descriptor, diff_id: Digest) -> Layer:
        """A layer whose blob is in this store, opened (and verified) from here."""
        return layout.layer(self.path, descriptor, diff_id)

    def read_blob(self, digest: Digest) -> bytes:
        """A small blob, verified."""
        return layout.read_blob(self.path, digest)

    def blob_writer(self, algorithm: str = "sha256") -> blobs.BlobWriter:
        """A verified atomic writer for a new blob."""
        return layout.blob_writer(self.path, algorithm)

    def write_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store bytes as a blob."""
        return layout.write_blob(self.path, data, expected)

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the store's filesystem (renames from here are atomic)."""
        return self.path / layout.TMP_DIR

    @property
    def snapshots_dir(self) -> Path:
        """Where the runtime keeps unpacked layers, one per ChainID."""
        return self.path / "snapshots"

    @property
    def validated(self) -> "ValidatedDigests":
        """Which documents already passed their schema (read them without validating again)."""
        return layout.memo(self.path)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold while writing blobs that will then be named, so prune cannot take them meanwhile."""
        return layout.writer_lock(self.path)

    # -- names ---------------------------------------------------------------------------------
    def index(self) -> Index:
        """The current index.json."""
        return layout.read_index(self.path)

    def images(self) -> list[NamedImage]:
        """Every entry of index.json, named or not, in index order."""
        return [NamedImage(*_entry_names(d), descriptor=d) for d in self.index().manifests]

    def find(self, ref: str) -> NamedImage:
        """The entry a user's reference means: a name (normalised as docker does) or an ID/digest prefix."""
        return self._lookup(ref)[0]

    def _lookup(self, ref: str) -> tuple[NamedImage, bool]:
        """(entry, whether `ref` named it by its name rather than by an ID or digest)."""
        entries = self.images()
        try:
            wanted = reference.parse(ref)
        except InvalidReferenceError:
            wanted = None
        if wanted is not None:
            for entry in entries:
                if wanted.digest is None and entry.normalized == str(wanted):
                    return entry, True
                if wanted.digest is not None and entry.descriptor.digest == wanted.digest:
                    return entry, False
        if _ID_PREFIX.match(ref):
            found = self._find_by_id(entries, ref.removeprefix("sha256:"))
            if found is not None:
                return found, False
        if wanted is None:
            raise InvalidReferenceError(f"invalid reference format: {ref!r}")
        raise NotFoundError(f"image {ref!r} not found in {self.path}")

    def _find_by_id(self, entries: list[NamedImage], prefix: str) -> NamedImage | None:
        matches = {}
        for entry in entries:
            if entry.descriptor.digest.encoded.startswith(prefix):
                matches[entry.descriptor.digest] = entry
                continue
            with contextlib.suppress(ImgtoolError):  # a broken entry must not hide the others
                if self.load(entry.descriptor).manifest.config.digest.encoded.startswith(prefix):
                    matches[entry.descriptor.digest] = entry
        if len(matches) > 1:
            raise InvalidReferenceError(f"image ID prefix {prefix!r} is ambiguous")
        return next(iter(matches.values()), None)

    def resolve(self, ref: str, platform: Platform | None = None) -> Image:
        """Load the image a reference names (`platform`'s, default the host's, if it is an index)."""
        return self.load(self.find(ref).descriptor, platform)

    def load(self, descriptor: Descriptor, platform: Platform | None = None) -> Image:
        """Load the image an index entry points to (`platform`'s, default the host's, if it is an index)."""
        from .image import load_image

        return load_image(self.path, descriptor, platform)

    def tag(self, descriptor: Descriptor, name: str) -> reference.Reference:
        """Point `name` at `descriptor`, replacing what it named before."""
        return self.name([(descriptor, [name])])[0]

    def tag_ref(self, source: str, target: str) -> reference.Reference:
        """`imgtool tag SOURCE TARGET`: find and name under the GC lock, so prune cannot come between."""
        with self.writing():
            return self.tag(self.find(source).descriptor, target)

    def name(self, named: Sequence[tuple[Descriptor, Sequence[str]]]) -> list[reference.Reference]:
        """Give each descriptor its names in ONE index.json update: all of them, or none.

        A descriptor with no names is kept as an unnamed entry (docker's `<none>`), addressable by
        ID until a prune. Names and reachability are decided under one lock: this holds the shared
        GC lock and checks, inside the index lock, that everything each image reaches is present,
        so a racing `rmi` + `prune` can never leave a name pointing at a missing blob.
        """
        plan = [(d, [_checked_ref(d, n) for n in names]) for d, names in named]  # every name first

        def change(index: Index) -> Index:
            entries = list(index.manifests)
            for d, refs in plan:
                missing = [x for x in sorted(self.reachable([d], subjects=False), key=str) if not self.has_blob(x)]
                if missing:
                    raise NotFoundError(f"image '{d.digest}' not found in {self.path}: blob {missing[0]} was removed")
                if not refs and not any(e.digest == d.digest for e in entries):
                    entries.append(dataclasses.replace(d, annotations=_unnamed(d.annotations)))
                for ref in refs:
                    entries = [e for e in entries if _entry_names(e)[1] != str(ref)
                               and not (_entry_names(e)[0] is None and e.digest == d.digest)]
                    entries.append(dataclasses.replace(d, annotations={**_unnamed(d.annotations),
                                                                       **name_annotations(ref)}))
            return Index(tuple(entries), index.media_type, index.annotations)

        with self.writing():
            layout.update_index(self.path, change)
        return [ref for _, refs in plan for ref in refs]

    def untag(self, ref: str, force: bool = False) -> list[NamedImage]:
        """`rmi`: remove a name; by ID, every name of that image, which docker refuses without force
        when there are several. The blobs stay until `prune`. Returns the entries removed."""
        entry, by_name = self._lookup(ref)
        doomed = [entry] if by_name else [e for e in self.images() if e.descriptor.digest == entry.descriptor.digest]
        if len(doomed) > 1 and not force:
            raise ImgtoolError(f"conflict: unable to delete {ref} (must be forced) - image is referenced in "
                               f"multiple repositories ({', '.join(e.shown for e in doomed)})")
        gone = [e.descriptor for e in doomed]

        def change(index: Index) -> Index:
            return Index(tuple(d for d in index.manifests if d not in gone), index.media_type, index.annotations)

        layout.update_index(self.path, change)
        return doomed

    def put_manifest(self, data: bytes) -> Descriptor:
        """Store a manifest or index whose blobs are all here already, without naming it."""
        media_type = sniff_media_type(data)
        doc = parse_document(media_type, data, memo=self.validated)  # validated as written: in the memo
        missing = [d for d in references(doc) if not self.has_blob(d.digest)]
        if missing:
            raise NotFoundError(f"manifest refers to blob {missing[0].digest}, which is not in the store")
        return Descriptor(media_type, self.write_blob(data), len(data))

    def add_manifest(self, data: bytes, names: Sequence[str]) -> Descriptor:
        """Store a manifest or index (its blobs must already be here) and name it (no names: `<none>`)."""
        with self.writing():
            descriptor = self.put_manifest(data)
            self.name([(descriptor, names)])
        return descriptor

    # -- garbage -------------------------------------------------------------------------------
    def reachable(self, roots: Iterable[Descriptor] | None = None, subjects: bool = True) -> set[Digest]:
        """Every blob the roots reach (manifests, indexes, configs, layers; with `subjects`, the
        images they refer to): by default the roots are the named entries of index.json.
        Digests of missing blobs are included, and not followed."""
        seen: set[Digest] = set()
        stack = list(roots) if roots is not None else [img.descriptor for img in self.images() if img.name is not None]
        while stack:
            d = stack.pop()
            if d.digest in seen:
                continue
            seen.add(d.digest)
            if not self.has_blob(d.digest) or not (mediatype.is_index(d.media_type) or mediatype.is_manifest(d.media_type)):
                continue
            doc = parse_document(d.media_type, self.read_blob(d.digest), f"manifest {d.digest}", self.validated)
            stack.extend(references(doc))
            if doc.subject and subjects:
                stack.append(doc.subject)
        return seen

    def prune(self, all_images: bool = False) -> "gc.Report":
        """Remove unnamed entries (with `all_images`, every image no container uses), then every blob,
        snapshot and cache entry nothing left reaches (`imgtool.store.gc`)."""
        from . import gc

        return gc.prune(self, all_images)
