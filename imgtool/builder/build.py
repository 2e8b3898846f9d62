"""`imgtool build`: parse, schedule the stages the target needs (independent ones in parallel),
write the image, name it.

Stages run on threads: each waits for the stages it uses (FROM, COPY --from, RUN --mount from=).
The stages the target reaches are scheduled up front; a stage only an ONBUILD trigger names (the
base image's `COPY --from=helper`, known once the base is resolved) is scheduled when first asked
for, and a wait that would close a cycle is an error instead of a hang.
The main thread only waits, so Ctrl-C reaches it at once; it then kills every step container
(`runtime.cancel.cancel_all`), waits for the stages to clean up, and reports one line. Nothing is
named unless every stage succeeded; the whole build holds the store's writer lock, so a concurrent
prune cannot take blobs between being written and being named.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading
from collections.abc import Callable

from imgtool import dockerfile as df
from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen
from imgtool.oci.descriptor import Descriptor
from imgtool.store import Store

from .cache import key as cache_key
from .context import HashCache, Tree
from .progress import Progress
from .session import BuildError, Options, Session, State
from .stage import StageRun



@frozen
class Result:
    """The built image: its manifest descriptor and docker's image ID (the config digest)."""

    descriptor: Descriptor
    image_id: str
    state: State


def _epoch(options: Options, globals_: dict[str, str]) -> int | None:
    value = options.build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds")
    return int(value)


class Build:
    """One `imgtool build`."""

    def __init__(self, store: Store, options: Options, progress: Progress | None = None,
                 on_image: Callable[[Store, Result], None] | None = None):
        self.store = store
        self.options = options
        self.progress = progress or Progress(options.progress)
        self.on_image = on_image
        self.futures: dict[int, concurrent.futures.Future] = {}
        self.waits: dict[int, int] = {}  # stage index -> the stage it is waiting for
        self.lock = threading.Lock()
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._parsed: df.Dockerfile | None = None

    def parse(self) -> df.Dockerfile:
        """The Dockerfile, parsed (syntax errors are one line with the file and line); parsed once,
        since the CLI's checks and `run` both ask (a frozen value: sharing it is safe)."""
        if self._parsed is None:
            self._parsed = df.parse(self.options.dockerfile, self.options.dockerfile_name)
        return self._parsed

    def run(self) -> Result:
        """Build the target; raises ImgtoolError (Interrupted on Ctrl-C) with nothing named."""
        from imgtool.runtime import cancel

        options = self.options
        d = self.parse()
        from . import baseimage

        host = baseimage.host()
        baseimage.platform(options.platform)  # a malformed one fails before any step
        platform = options.platform or host
        globals_ = d.global_args(options.build_args, platform=platform, build_platform=host)
        stages = d.stages_for(options.target, globals_)
        target = d.target(options.target)
        session = Session(self.store, options, self.progress, _epoch(options, globals_))
        if options.context is not None:
            ignore_file = df.dockerignore_for(options.context, options.dockerfile_path)
            patterns = df.read_dockerignore(ignore_file.read_text()) if ignore_file else []
            table = session.cache.root / "files" / (cache_key(str(options.context)) + ".json")
            session.tree = Tree(options.context, df.PatternMatcher(patterns) if patterns else None,
                                hashes=HashCache(table))
        self.d, self.session, self.globals = d, session, globals_
        cancel.reset_cancel()
        with self.store.writing():
            # a worker for every stage of the file: one scheduled late never waits for a free thread
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(d.stages)),
                                                         thread_name_prefix="stage")
            self.pool = pool
            try:
                for stage in stages:
                    self._schedule(stage)
                state = self._wait(self.futures[target.index])
                pool.shutdown(wait=True)
                result = self._write(state)
            finally:
                pool.shutdown(wait=True)
                self.progress.close()
                if session.tree is not None and session.tree.hashes is not None:
                    session.tree.hashes.save()
        if self.on_image is not None:
            self.on_image(self.store, result)
        return result

    def _wait(self, future: concurrent.futures.Future) -> State:
        """Wait for the target; Ctrl-C cancels every stage, a failure in any stage fails the build."""
        from imgtool.runtime import cancel

        try:
            while True:
                with self.lock:
                    futures = list(self.futures.values())
                done, _ = concurrent.futures.wait(futures, timeout=0.25,
                                                  return_when=concurrent.futures.FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    cancel.cancel_all()
                    concurrent.futures.wait(list(self.futures.values()))
                    errors = [f.exception() for f in self.futures.values() if f.exception() is not None]
                    real = [e for e in errors if not isinstance(e, cancel.Interrupted)]
                    raise (real or errors)[0]
                if future.done():
                    return future.result()
        except KeyboardInterrupt:
            cancel.cancel_all()
            concurrent.futures.wait(list(self.futures.values()))
            raise cancel.Interrupted("build interrupted (Ctrl-C): nothing was tagged") from None

    def _schedule(self, stage: df.Stage) -> concurrent.futures.Future:
        """The stage's future, submitting the stage first if nothing asked for it yet."""
        with self.lock:
            future = self.futures.get(stage.index)
            if future is None:
                assert self.pool is not None
                future = self.futures[stage.index] = self.pool.submit(self._stage, stage)
            return future

    def _stage(self, stage: df.Stage) -> State:
        index = stage.index
        return StageRun(self.session, self.d, stage, self.globals,
                        lambda name, line: self.resolve(name, line, index),
                        lambda name, line, platform: self.base(name, line, index, platform),
                        len(self.d.stages) == 1).run()

    def _find_stage(self, name: str, before: int | None = None) -> df.Stage | None:
        """The stage `name` (or index) means; with `before`, among the stages before that one only
        (a FROM means the last stage of that name defined above it)."""
        from imgtool.dockerfile.stages import find_stage

        stages = self.d.stages[:before]
        found = find_stage(stages, name)
        if found is None and name.isdigit() and int(name) < len(stages):
            found = stages[int(name)]
        return found

    def base(self, name: str, line: int, waiter: int, platform: str | None) -> State | None:
        """A stage's FROM: scratch (None), an earlier stage, or an image (for `platform`, the
        stage's `FROM --platform` or the build's `--platform`; None: the host's)."""
        if name.lower() == "scratch":
            return None
        stage = self._find_stage(name, before=waiter)
        if stage is not None and self._stage_line(stage) < line:
            return self._stage_result(stage, waiter, line)
        return self._image(name, line, platform)

    def resolve(self, name: str, line: int, waiter: int) -> State:
        """COPY --from / RUN --mount from= of stage `waiter`: a stage (name or index) or an image."""
        stage = self._find_stage(name)
        if stage is not None:
            return self._stage_result(stage, waiter, line)
        if name.lower() == "scratch":
            from .stage import empty_image

            from .baseimage import host

            return State(empty_image(self.options.platform or host()))
        return self._image(name, line, self.options.platform)

    @staticmethod
    def _stage_line(stage: df.Stage) -> int:
        return stage.from_.line

    def _stage_result(self, stage: df.Stage, waiter: int, line: int) -> State:
        """Wait for `stage` on behalf of stage `waiter` (refused if that closes a cycle of waits)."""
        with self.lock:
            cursor: int | None = stage.index
            while cursor is not None and cursor != waiter:
                cursor = self.waits.get(cursor)
            if cursor == waiter:
                raise BuildError(f"{self.d.filename}:{line}: circular dependency detected on stage: "
                                 f"{stage.name or stage.index}")
            self.waits[waiter] = stage.index
        try:
            return self._schedule(stage).result()
        finally:
            with self.lock:
                self.waits.pop(waiter, None)

    def _image(self, name: str, line: int, platform: str | None) -> State:
        from imgtool.runtime.cancel import check_cancelled

        from . import baseimage

        want = baseimage.platform(platform, f"{self.d.filename}:{line}")
        try:
            image = baseimage.load(self.store, name, want)
        except ImgtoolError as exc:
            raise BuildError(f"{self.d.filename}:{line}: {name}: {exc}") from None
        check_cancelled()
        return State(image.config, tuple(image.layers))

    def _write(self, state: State) -> Result:
        """Config (labels, created) and manifest into the store; then the names."""
        from imgtool.store import mutate

        image = state.image
        if self.options.labels:
            config = dataclasses.replace(image.config, labels={**(image.config.labels or {}), **self.options.labels})
            image = dataclasses.replace(image, config=config)
        created = next((h.created for h in reversed(image.history) if h.created), image.created)
        image = dataclasses.replace(image, created=created)
        from imgtool.oci import schema

        config_bytes = mutate.document_bytes(self.store, image.to_dict(), schema.CONFIG, "config")
        vertex = self.progress.vertex("exporting to image")
        vertex.start()
        descriptor = mutate.write_image(self.store, config_bytes, state.layers, names=self.options.tags)
        if not self.options.tags:
            _keep_unnamed(self.store, descriptor)
        vertex.done()
        from imgtool.oci.digest import of_bytes

        return Result(descriptor, str(of_bytes(config_bytes)), dataclasses.replace(state, image=image))


def _keep_unnamed(store: Store, descriptor: Descriptor) -> None:
    """An untagged build stays in index.json without a name (docker's dangling image)."""
    from imgtool.oci.manifest import Index
    from imgtool.store import layout

    def change(index: Index) -> Index:
        if any(d.digest == descriptor.digest for d in index.manifests):
            return index
        return Index(index.manifests + (descriptor,), index.media_type, index.annotations)

    layout.update_index(store.path, change)
