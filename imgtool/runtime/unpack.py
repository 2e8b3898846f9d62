"""`imgtool unpack`: an image as an OCI runtime bundle (rootfs/ + config.json), like `umoci unpack`.

The rootfs is flattened (whiteouts applied by deletion) so the bundle is self-contained and any
OCI runtime can run it. Written into a sibling staging directory and renamed into place: a failure
(a hostile or corrupt layer) leaves nothing half-written.

A layer whose (blob digest, DiffID) pair the store's memo vouches for is not hashed again unless
`verify` is asked (imgtool.layer.verify's trust policy); every other layer is verified in full, and
its pair recorded once that passed, so only the first unpack of a blob pays for both SHA-256 passes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from imgtool.errors import ImgtoolError
from imgtool.layer.verify import TRUST_MEMO, trust_key
from imgtool.store import Store

from .applier import apply_layer
from .bundle import Overrides, runtime_config, write_config
from .progress import Silent


def unpack_image(store: Store, ref: str, bundle: Path, ov: Overrides | None = None,
                 progress: Silent | None = None, verify: bool = False) -> None:
    """Unpack `ref` from the store into a new bundle directory, reporting each layer to `progress`;
    `verify` re-hashes even the layers the store's memo trusts (a store whose disk is suspect)."""
    progress = progress or Silent()
    bundle = Path(bundle)
    if bundle.exists() and (not bundle.is_dir() or any(bundle.iterdir())):
        raise ImgtoolError(f"{bundle} already exists and is not an empty directory")
    image = store.resolve(ref)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.", dir=bundle.parent))
    try:
        rootfs = staging / "rootfs"
        rootfs.mkdir(mode=0o755)
        for layer in image.layers:
            key = trust_key(layer.descriptor, layer.diff_id)
            trusted = not verify and store.validated.seen(TRUST_MEMO, key)
            with layer.open_uncompressed(trusted) as stream:
                progress.start(layer, lambda stream=stream: stream.blob_read)
                apply_layer(stream, rootfs)
            if not trusted:
                store.validated.remember(TRUST_MEMO, key)  # verified in full just now
            progress.done(layer)
        write_config(runtime_config(image.config, rootfs, ov or Overrides(network="none", seccomp="unconfined")), staging)
        os.chmod(staging, 0o700)  # unprivileged users must not reach setuid binaries in rootfs
        if bundle.exists():
            bundle.rmdir()
        os.rename(staging, bundle)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
