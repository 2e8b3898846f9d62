"""The store's schema memo: its own documents are not validated again on every read (no jsonschema
import on `images`, `resolve`), while a document another tool wrote into the layout still is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imgtool.errors import SchemaError
from imgtool.oci import canonical, digest as digests, schema
from imgtool.oci.manifest import parse_manifest
from imgtool.store import Store

_PROBE = """
import sys
from imgtool.store import Store
store = Store.open(sys.argv[1])
image = store.resolve("busybox")
store.images()
print("jsonschema" in sys.modules, image.id)
"""


def _resolve_in_fresh_process(root) -> tuple[bool, str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(root)], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    return out[0] == "True", out[1]


def test_own_documents_are_read_without_jsonschema(busybox_store):
    imported, image_id = _resolve_in_fresh_process(busybox_store.path)
    assert not imported
    assert image_id == busybox_store.resolve("busybox").id


def _plant(store: Store, manifest: dict) -> bytes:
    """Write a manifest into the layout the way another tool would: blob and index.json directly."""
    data = json.dumps(manifest).encode()
    digest = digests.of_bytes(data)
    store.blob_path(digest).write_bytes(data)
    index = json.loads((store.path / "index.json").read_bytes())
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": str(digest),
                               "size": len(data), "annotations": {"org.opencontainers.image.ref.name": "planted"}})
    (store.path / "index.json").write_text(json.dumps(index))
    return data


def test_a_document_from_another_tool_is_validated_on_first_read(busybox_store):
    good = json.loads(busybox_store.resolve("busybox").manifest_bytes)
    bad = {**good, "layers": [{k: v for k, v in good["layers"][0].items() if k != "mediaType"}]}
    data = _plant(busybox_store, bad)
    with pytest.raises(SchemaError, match="mediaType"):
        busybox_store.resolve("planted")
    assert not busybox_store.validated.seen(schema.MANIFEST, schema.memo_key(data))
    # a valid one from elsewhere is validated on its first read, then is in the memo; the
    # hand-written index.json too (the memo records a document only once it passed its schema)
    planted = _plant(busybox_store, {**good, "annotations": {"from": "another tool"}})
    index = (busybox_store.path / "index.json").read_bytes()
    memo = busybox_store.validated
    assert not memo.seen(schema.MANIFEST, schema.memo_key(planted))
    assert not memo.seen(schema.INDEX, schema.memo_key(index))
    _resolve_in_fresh_process(busybox_store.path)  # reads index.json
    assert memo.seen(schema.INDEX, schema.memo_key(index))
    busybox_store.resolve(str(digests.of_bytes(planted)))
    assert memo.seen(schema.MANIFEST, schema.memo_key(planted))


def test_the_memo_is_keyed_by_the_bytes_and_the_schema(busybox_store):
    data = busybox_store.resolve("busybox").manifest_bytes
    memo = busybox_store.validated
    assert memo.seen(schema.MANIFEST, schema.memo_key(data))
    assert not memo.seen(schema.CONFIG, schema.memo_key(data))  # passing one schema says nothing of another
    doc = json.loads(data)
    doc["layers"][0]["size"] = "big"  # other bytes, other key: validated, and refused
    with pytest.raises(SchemaError, match="size"):
        parse_manifest(canonical.dumps(doc), memo=memo)


def test_prune_forgets_documents_that_are_gone(busybox_store):
    data = busybox_store.resolve("busybox").manifest_bytes
    busybox_store.untag("busybox")
    busybox_store.prune()
    assert not busybox_store.validated.seen(schema.MANIFEST, schema.memo_key(data))
    assert busybox_store.validated.seen(schema.INDEX, schema.memo_key((busybox_store.path / "index.json").read_bytes()))
