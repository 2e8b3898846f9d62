"""The bundled schemas accept and reject exactly what the image-spec's own schema files do.

Documents come from the spec's own JSON examples plus systematic breakages of each, so the test
exercises both verdicts; it fails if a bundled schema drifts from the official one.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from imgtool.errors import SchemaError
from imgtool.oci import schema
from tests.conftest import shared

SPEC = shared("specs", "image-spec")
SCHEMAS = [schema.MANIFEST, schema.INDEX, schema.CONFIG, schema.LAYOUT, schema.DESCRIPTOR]


def official_validator(name: str) -> jsonschema.Draft4Validator:
    def retrieve(uri: str) -> Resource:
        file = SPEC / "schema" / Path(uri.split("#")[0]).name
        return Resource.from_contents(json.loads(file.read_text()), default_specification=DRAFT4)

    doc = json.loads((SPEC / "schema" / name).read_text())
    return jsonschema.Draft4Validator(doc, registry=Registry(retrieve=retrieve))


def spec_examples() -> list[object]:
    docs = []
    for md in sorted(SPEC.glob("*.md")):
        for block in re.findall(r"```json[^\n]*\n(.*?)```", md.read_text(), re.S):
            try:
                docs.append(json.loads(block))
            except json.JSONDecodeError:
                continue  # some examples are fragments with "..." on purpose
    return docs


def breakages(doc: object) -> list[object]:
    """Variants of a document with one field removed, retyped or corrupted."""
    out = []
    if isinstance(doc, dict):
        for key in doc:
            removed = {k: v for k, v in doc.items() if k != key}
            out.append(removed)
            for bad in (None, 7, "x", [], {}):
                retyped = dict(doc)
                retyped[key] = bad
                out.append(retyped)
            for sub in breakages(doc[key])[:6]:
                nested = dict(doc)
                nested[key] = sub
                out.append(nested)
    elif isinstance(doc, list) and doc:
        out.append([])
        out.extend([sub] + doc[1:] for sub in breakages(doc[0])[:6])
    elif isinstance(doc, str):
        out.extend([doc.upper(), doc + " !", ""])
    elif isinstance(doc, int):
        out.extend([-1, 2**64])
    return out


def corpus() -> list[object]:
    docs = []
    for doc in spec_examples():
        docs.append(doc)
        docs.extend(breakages(copy.deepcopy(doc)))
    return docs


@pytest.mark.parametrize("name", SCHEMAS)
def test_bundled_schema_agrees_with_official(name):
    ours = schema.validator(name)
    theirs = official_validator(name)
    verdicts = {True: 0, False: 0}
    for doc in corpus():
        expected = theirs.is_valid(doc)
        assert ours.is_valid(doc) == expected, json.dumps(doc)[:300]
        verdicts[expected] += 1
    assert verdicts[True] > 0 and verdicts[False] > 0, verdicts


def test_bundled_files_are_the_specs():
    for name in SCHEMAS + ["defs.json", "defs-descriptor.json"]:
        bundled = Path(schema.__file__).parent / "schemas" / name
        assert json.loads(bundled.read_text()) == json.loads((SPEC / "schema" / name).read_text())


def test_validate_names_the_failing_field():
    doc = {"schemaVersion": 2, "config": {"mediaType": "a/b", "digest": "sha256:" + "0" * 64, "size": -1},
           "layers": [{"mediaType": "a/b", "digest": "sha256:" + "0" * 64, "size": 1}]}
    with pytest.raises(SchemaError, match=r"^manifest: config\.size: "):
        schema.validate(doc, schema.MANIFEST, "manifest")
