"""One build in progress: its options, the image state each stage carries, and how a step's
filesystem change becomes a cached layer and the next snapshot.

`State` is the image as it stands after a step (config with history and diff_ids, layer
descriptors). `Session.layer_step` is the one path every filesystem step takes: look the key up
first (no work at all on a hit), else produce the upper dir, turn it into a layer with the layer
codec, commit the upper dir as the snapshot of the new ChainID, record it in the cache.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imgtool.dockerfile.stages import StageVars
from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen
from imgtool.layer.layer import Layer
from imgtool.oci.config import History, ImageConfig
from imgtool.runtime.cgroups import Resources
from imgtool.store import Store

from .cache import BuildCache, Record
from .progress import Progress, Vertex

HISTORY_COMMENT = "buildkit.dockerfile.v0"


class BuildError(ImgtoolError):
    """A build step failed; the message names the Dockerfile line and the instruction."""


@dataclass
class Options:
    """What `imgtool build` was asked to do."""

    context: Path | None
    dockerfile: str
    dockerfile_name: str = "Dockerfile"
    dockerfile_path: Path | None = None
    tags: list[str] = field(default_factory=list)
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)
    no_cache: bool = False
    compression: str = "gzip"  # a layer.compression.Compression value
    platform: str | None = None
    network: str = "host"
    resources: Resources = field(default_factory=Resources)
    labels: dict[str, str] = field(default_factory=dict)
    progress: str = "auto"


@frozen
class State:
    """An image during the build: config (history, diff_ids) and its layer descriptors; a finished
    stage's also carries the variables a stage `FROM` it inherits."""

    image: ImageConfig
    layers: tuple[Layer, ...] = ()
    vars: StageVars = StageVars()

    @property
    def chain(self) -> str:
        """The filesystem's identity for cache keys: the ChainID of its layers ('' when empty)."""
        from imgtool.oci.config import chain_ids

        return str(chain_ids(list(self.image.diff_ids))[-1]) if self.image.diff_ids else ""

    def env(self) -> dict[str, str]:
        """The image's Env as a mapping."""
        return dict(e.split("=", 1) if "=" in e else (e, "") for e in self.image.config.env or ())

    def with_config(self, **changes: object) -> "State":
        """This state with ContainerConfig fields replaced."""
        return dataclasses.replace(self, image=dataclasses.replace(
            self.image, config=dataclasses.replace(self.image.config, **changes)))

    def append(self, record: Record, created_by: str, with_layer: bool = True) -> "State":
        """One more history entry, with the record's layer when it has one (else empty_layer)."""
        entry = History(created=record.created, created_by=created_by, comment=HISTORY_COMMENT,
                        empty_layer=not with_layer or record.layer is None)
        image = dataclasses.replace(self.image, history=self.image.history + (entry,))
        if record.layer is None or not with_layer:
            return dataclasses.replace(self, image=image)
        layer = record.layer
        return dataclasses.replace(self, image=dataclasses.replace(image, diff_ids=image.diff_ids + (layer.diff_id,)),
                                   layers=self.layers + (layer,))


def rfc3339(seconds: float) -> str:
    """`created` form: UTC, second precision."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


class Session:
    """Shared by every stage of one build (stages may run on several threads)."""

    def __init__(self, store: Store, options: Options, progress: Progress, epoch: int | None):
        self.store = store
        self.options = options
        self.cache = BuildCache(store)
        self.progress = progress
        self.epoch = epoch
        self.tree = None  # the build context (a context.Tree), None for a build without one
        self.lock = threading.Lock()

    def created(self, state: State, runs: bool) -> str | None:
        """History time of a new step: SOURCE_DATE_EPOCH; else now for RUN steps, and for steps
        that run nothing the time of the step before (so a COPY-only build is reproducible)."""
        if self.epoch is not None:
            return rfc3339(self.epoch)
        if runs:
            return rfc3339(time.time())
        for h in reversed(state.image.history):
            if h.created:
                return h.created
        return state.image.created

    def file_mtime(self) -> int:
        """mtime of everything a COPY/ADD/WORKDIR writes: SOURCE_DATE_EPOCH, else 0 (reproducible)."""
        return self.epoch if self.epoch is not None else 0

    def lowers(self, state: State) -> list[Path]:
        """Snapshot dirs of a state's filesystem (top first), unpacking layers not yet snapshotted."""
        from imgtool.runtime import step

        return step.prepare(self.store, list(state.layers))

    def layer_step(self, state: State, vertex: Vertex, key: str, created_by: str,
                   produce: Callable[[], Record]) -> State:
        """Cache lookup first; on a miss `produce()` (which commits a layer); then history."""
        from imgtool.runtime.cancel import check_cancelled

        check_cancelled()
        record = None if self.options.no_cache else self.cache.get(key)
        if record is not None:
            vertex.set_cached()
        else:
            vertex.start()
            try:
                record = produce()
            except BaseException as exc:
                vertex.fail(str(exc) if isinstance(exc, ImgtoolError) else type(exc).__name__)
                raise
            # a concurrent build may have won: continue from its layer
            record = self.cache.put(key, record, replace=self.options.no_cache)
            vertex.done()
        return state.append(record, created_by)

    def commit(self, state: State, upper: Path, lowers: list[Path], created: str | None,
               normalise_mtime: bool = False) -> Record:
        """The upper dir of a step -> a layer blob in the store + the snapshot of the new ChainID."""
        from imgtool.layer.overlay import changes_from_upper
        from imgtool.runtime import step
        from imgtool.oci.config import chain_ids
        from imgtool.store import mutate

        if normalise_mtime:
            _set_mtimes(upper, self.file_mtime())
        # a step that changed nothing still gets its (empty) layer: BuildKit's history never marks
        # RUN/COPY/ADD/WORKDIR as empty_layer, so its images carry the 1024-byte empty tar there
        changes = list(changes_from_upper(upper, lowers))
        from imgtool.layer.compression import Compression

        layer = mutate.add_layer(self.store, changes, Compression(self.options.compression), self.epoch)
        chain = chain_ids([*state.image.diff_ids, layer.diff_id])[-1]
        step.commit_upper(self.store, upper, chain)
        return Record(layer, created)


def _set_mtimes(root: Path, mtime: int) -> None:
    """Every entry of a file step's upper dir gets one fixed mtime (children before parents)."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))

