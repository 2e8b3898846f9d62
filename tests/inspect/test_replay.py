"""The replay against a naive model of OCI whiteout semantics, on random layer stacks."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imgtool.inspect.replay import VISIBLE, replay
from imgtool.inspect.walk import DIR, FILE, LayerMembers, Member

PATHS = ["a", "a/b", "a/b/c", "a/d", "e", "e/f"]
member = st.one_of(
    st.builds(lambda p, n: Member(p, FILE, n), st.sampled_from(PATHS), st.integers(0, 50)),
    st.builds(lambda p: Member(p, DIR, 0), st.sampled_from(PATHS)),
    st.builds(lambda p: Member(p, "whiteout", 0), st.sampled_from(PATHS)),
    st.builds(lambda p: Member(p, "opaque", 0), st.sampled_from(["a", "a/b", "e"])),
)


def _below(path: str, root: str) -> bool:
    return path.startswith(root + "/")


def naive(layers: list[list[Member]]) -> dict[str, tuple[int, int]]:
    """path -> (layer, position) of the version the final filesystem shows."""
    live: dict[str, tuple[int, int, str]] = {}
    for k, members in enumerate(layers):
        lower = dict(live)
        for m in members:
            if m.kind == "opaque":
                live = {p: v for p, v in live.items() if not (_below(p, m.path) and p in lower and v[0] < k)}
        for m in members:
            if m.kind == "whiteout":
                live = {p: v for p, v in live.items() if not ((p == m.path or _below(p, m.path)) and v[0] < k)}
        for i, m in enumerate(members):
            if m.kind in ("opaque", "whiteout"):
                continue
            old = live.get(m.path)
            if m.kind != DIR:
                live = {p: v for p, v in live.items() if not _below(p, m.path)}
            live = {p: v for p, v in live.items() if not (_below(m.path, p) and v[2] != DIR)}
            live[m.path] = (k, i, m.kind)
    return {p: (v[0], v[1]) for p, v in live.items()}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(member, max_size=6), min_size=1, max_size=4))
def test_replay_shows_what_the_naive_model_shows(layers):
    # one entry per path per layer, as a tar written by any builder has
    layers = [list({m.path + ("/.wh" if m.kind in ("whiteout", "opaque") else ""): m for m in ms}.values()) for ms in layers]
    for ms in layers:   # a tar with both `a` (a file) and `a/b` is not a layer any builder writes
        files = {m.path for m in ms if m.kind == FILE}
        assume(not any(_below(m.path, f) for m in ms for f in files if m.kind not in ("whiteout", "opaque")))
    changes = replay(LayerMembers(k, tuple(ms), 0, 0) for k, ms in enumerate(layers))
    visible = {}
    for c in changes:
        adds = [m for m in layers[c.index] if m.kind not in ("opaque", "whiteout")]
        for v, m in zip(c.versions, adds):
            assert v.path == m.path
            if v.status == VISIBLE:
                visible[v.path] = (c.index, layers[c.index].index(m))
            else:
                assert v.removed_in is not None and v.removed_in >= c.index
    assert visible == naive(layers)
