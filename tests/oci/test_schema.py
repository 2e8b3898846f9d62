"""The bundled schemas accept and reject exactly what the image-spec's own schema files do.

Documents come from the spec's own JSON examples plus systematic breakages of each, so the test
exercises both verdicts; it fails if a bundled schema drifts from the official one.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
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


def mutations(doc: object, depth: int = 0) -> list[object]:
    """Deeper and stranger breakages than `breakages`: every value (at any depth) swapped for values
    of each JSON type, including the bool/int and int/float look-alikes draft-04 tells apart."""
    odd = [None, True, False, 0, 1, 2, 2.0, -1, 2**63, 2**64, "", "a/b", "a/b\n", "sha256:" + "a" * 64,
           "layers", "1.0.0", [], ["x"], [1], {}, {"k": "v"}, {"k": 1}, {"": 1}]
    out: list[object] = []
    if isinstance(doc, dict):
        for key in doc:
            for value in odd + [sub for sub in mutations(doc[key], depth + 1)][:40]:
                changed = dict(doc)
                changed[key] = value
                out.append(changed)
        if depth == 0:
            out.append({**doc, "annotations": {"a": "b", "\n": 1}})
            out.append({**doc, "unknown": 1})
    elif isinstance(doc, list) and doc:
        for sub in mutations(doc[0], depth + 1)[:40]:
            out.append([sub] + doc[1:])
        out.append(doc + [None])
    return out


@pytest.mark.parametrize("name", SCHEMAS)
def test_quick_check_agrees_with_jsonschema(name):
    """schemacheck's predicate is jsonschema's verdict: it may never pass what jsonschema refuses
    (validate would accept it unchecked), and it should not refuse what jsonschema passes."""
    from imgtool.oci import schemacheck

    quick = schemacheck.compile_file(name, schema._load)
    assert quick is not None, f"{name} no longer compiles: every document would import jsonschema"
    theirs = official_validator(name)
    docs = corpus()
    docs += [m for doc in spec_examples() for m in mutations(copy.deepcopy(doc))]
    verdicts = {True: 0, False: 0}
    for doc in docs:
        expected = theirs.is_valid(doc)
        assert quick(doc) == expected, json.dumps(doc)[:300]
        verdicts[expected] += 1
    assert verdicts[True] > 0 and verdicts[False] > 0, verdicts


def test_unsupported_keywords_leave_the_schema_to_jsonschema():
    from imgtool.oci import schemacheck

    files = {"a.json": {"type": "object", "properties": {"x": {"uniqueItems": True}}},
             "b.json": {"$ref": "http://elsewhere.example/c.json"},
             "c.json": {"id": "https://x.example/c", "properties": {"y": {"$ref": "#/definitions/z"}},
                        "definitions": {"z": {"type": "string"}}}}
    for name in files:
        assert schemacheck.compile_file(name, files.__getitem__) is None, name


def test_valid_documents_do_not_import_jsonschema():
    example = next(d for d in spec_examples() if isinstance(d, dict) and "layers" in d and "config" in d)
    code = ("import json, sys; from imgtool.oci import schema; "
            f"schema.validate(json.loads({json.dumps(json.dumps(example))}), schema.MANIFEST, 'm'); "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
