"""A yes/no check of a document against a bundled schema, without importing jsonschema.

Why: importing jsonschema (with referencing, attrs, rpds) and building a validator costs 40-60 ms,
more than everything else a pull or a push of a small image does after start-up, and every
document from outside the store (a registry, a peer's layout) must be validated. The bundled
schemas use a small part of draft-04, so they compile here into plain predicates with
jsonschema's own semantics for that part (the Draft4Validator imgtool uses: `$ref` siblings
ignored, `integer` excludes bool and float, `pattern` is `re.search`, no `format` checker).

Why not a library: fastjsonschema, the one that compiles schemas into predicates, rewrites `$` in
a `pattern` to `\\Z` (2.22.3): the spec's mediaType pattern, with `$` inside a character class,
does not compile at all, and jsonschema's verdict on a value ending in a newline would differ.

Only "valid" is final: a document this check refuses goes to jsonschema (`schema.validate`), which
names the failing field and has the last word. A keyword or `$ref` form outside that part makes the
whole schema uncompilable (`compile_file` returns None) and every document of it goes to jsonschema,
so this module can make validation cheaper, never laxer. tests/oci/test_schema.py holds it to
jsonschema's verdict on the spec's examples and their breakages.
"""

from __future__ import annotations

import numbers
import re
from typing import Any, Callable

Check = Callable[[Any], bool]

# keywords with no say on validity (draft-04 without a format checker)
_ANNOTATIONS = frozenset({"$schema", "id", "description", "title", "default", "definitions", "media", "format"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, numbers.Number) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


class _Unsupported(Exception):
    """The schema uses draft-04 beyond what this module implements."""


def compile_file(name: str, load: Callable[[str], dict[str, Any]]) -> Check | None:
    """The predicate for schema file `name`, `load` reading it and its siblings by file name
    (None: the schema goes beyond this module; leave all its documents to jsonschema)."""
    try:
        return _Compiler(load).schema(name, "")
    except _Unsupported:
        return None


class _Compiler:
    def __init__(self, load: Callable[[str], dict[str, Any]]):
        self.load = load
        self.done: dict[tuple[str, str], Check] = {}

    def schema(self, file: str, pointer: str) -> Check:
        """The check for the subschema at `pointer` in bundled `file` (compiled once; cycles allowed)."""
        key = (file, pointer)
        if key not in self.done:
            slot: list[Check] = []
            self.done[key] = lambda x: slot[0](x)  # a $ref cycle back here finds the finished check
            node: Any = self.load(file)
            for part in filter(None, pointer.split("/")):
                if not isinstance(node, dict) or part not in node:
                    raise _Unsupported(f"{file}#{pointer}")
                node = node[part]
            slot.append(self.node(node, file))
        return self.done[key]

    def ref(self, ref: str, file: str, scoped: bool) -> Check:
        # every bundled `$ref` names a sibling file by name (schema._retrieve resolves it so,
        # whatever base is in scope); a bare `#/...` means the file itself only outside any `id`
        target, _, fragment = ref.partition("#")
        if fragment and not fragment.startswith("/"):
            raise _Unsupported(ref)
        if not target:
            if scoped:
                raise _Unsupported(ref)
            return self.schema(file, fragment)
        if "/" in target or not target.endswith(".json"):
            raise _Unsupported(ref)
        try:
            self.load(target)
        except FileNotFoundError:
            raise _Unsupported(ref) from None
        return self.schema(target, fragment)

    def node(self, s: Any, file: str, scoped: bool = False) -> Check:
        if not isinstance(s, dict):
            raise _Unsupported(repr(s)[:50])
        if "$ref" in s:  # draft-04: a $ref's siblings do not apply
            if not isinstance(s["$ref"], str):
                raise _Unsupported("$ref")
            return self.ref(s["$ref"], file, scoped)
        scoped = scoped or "id" in s
        checks: list[Check] = []
        for keyword, value in s.items():
            if keyword in _ANNOTATIONS:
                continue
            make = getattr(self, "k_" + keyword, None)
            if make is None:
                raise _Unsupported(keyword)
            checks.append(make(value, s, file, scoped))
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(check(x) for check in checks)

    # -- keywords: each as jsonschema's draft-04 implementation decides it --------------------------
    def k_type(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n in _TYPES for n in names):
            raise _Unsupported("type")
        tests = [_TYPES[n] for n in names]
        return tests[0] if len(tests) == 1 else (lambda x: any(t(x) for t in tests))

    def k_properties(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, dict):
            raise _Unsupported("properties")
        subs = [(k, self.node(v, file, scoped)) for k, v in value.items()]
        return lambda x: not isinstance(x, dict) or all(check(x[k]) for k, check in subs if k in x)

    def k_patternProperties(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, dict):
            raise _Unsupported("patternProperties")
        subs = [(re.compile(p), self.node(v, file, scoped)) for p, v in value.items()]
        return lambda x: not isinstance(x, dict) or all(
            check(v) for p, check in subs for k, v in x.items() if p.search(k))

    def k_required(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise _Unsupported("required")
        return lambda x: not isinstance(x, dict) or all(n in x for n in value)

    def k_items(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, dict):  # the tuple form (with additionalItems) is not used
            raise _Unsupported("items")
        check = self.node(value, file, scoped)
        return lambda x: not isinstance(x, list) or all(check(item) for item in x)

    def k_minItems(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not _TYPES["integer"](value):
            raise _Unsupported("minItems")
        return lambda x: not isinstance(x, list) or len(x) >= value

    def k_minimum(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not _TYPES["number"](value) or "exclusiveMinimum" in s:
            raise _Unsupported("minimum")
        number = _TYPES["number"]
        return lambda x: not number(x) or not x < value

    def k_maximum(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not _TYPES["number"](value) or "exclusiveMaximum" in s:
            raise _Unsupported("maximum")
        number = _TYPES["number"]
        return lambda x: not number(x) or not x > value

    def k_pattern(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, str):
            raise _Unsupported("pattern")
        search = re.compile(value).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def k_enum(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        # strings only: jsonschema's `equal` compares a string to anything with ==, so membership
        # of a str instance in a set of strs is its verdict (other values need its bool/int rules)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise _Unsupported("enum")
        allowed = frozenset(value)
        return lambda x: isinstance(x, str) and x in allowed

    def k_oneOf(self, value: Any, s: dict, file: str, scoped: bool) -> Check:
        if not isinstance(value, list) or not value:
            raise _Unsupported("oneOf")
        subs = [self.node(v, file, scoped) for v in value]
        return lambda x: sum(1 for check in subs if check(x)) == 1
