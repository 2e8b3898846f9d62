"""canonical.loads on what Go's encoding/json reads differently from Python's json."""

from __future__ import annotations

import pytest

from imgtool.oci import canonical


@pytest.mark.parametrize("text, go_reads", [
    (rb'{"a": "\ud800"}', {"a": "\ufffd"}),                       # a lone high surrogate
    (rb'{"a": "x\udc00y"}', {"a": "x\ufffdy"}),                   # a lone low one
    (rb'{"a": "\ud800\ud800\udc00"}', {"a": "\ufffd\U00010000"}),  # lone, then a pair
    (rb'{"\uDBFF": ["\ud83d\ude00", {"k": "\udfff"}]}', {"\ufffd": ["\U0001f600", {"k": "\ufffd"}]}),
    (rb'{"\ud800": 1, "\ufffd": 2}', {"\ufffd": 2}),              # keys that become one: the last wins
    (rb'{"a": "\\ud800"}', {"a": "\\ud800"}),                     # an escaped backslash, no surrogate
])
def test_lone_surrogate_escapes_decode_to_U_FFFD_as_in_go(text, go_reads):
    """Python's json keeps a lone `\\ud800` as U+D800, which no other tool sees (Go: U+FFFD) and
    which cannot be encoded as UTF-8."""
    doc = canonical.loads(text)
    assert doc == go_reads
    canonical.dumps(doc).decode("utf-8")  # encodable, and the same text Go would write
