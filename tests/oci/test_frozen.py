"""imgtool.frozen makes the classes dataclass(frozen=True) makes: same equality, hash, repr, fields,
and the same refusal to change after __init__."""

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from imgtool.frozen import frozen


def _pair(**options):
    """The same class body, once through dataclass and once through frozen."""

    def body(name):
        return type(name, (), {
            "__annotations__": {"a": "int", "b": "str", "skip": "int", "nohash": "tuple", "self_ref": "object"},
            "b": "x", "skip": field(default=0, compare=False, repr=False),
            "nohash": field(default=(), hash=False), "self_ref": None,
        })

    return dataclass(frozen=True, **options)(body("Thing")), frozen(**options)(body("Thing"))


@pytest.mark.parametrize("options", [{}, {"kw_only": True}])
def test_equality_hash_and_repr_match_dataclass(options):
    ref, new = _pair(**options)
    for args in ({"a": 1}, {"a": 1, "b": "y", "skip": 5, "nohash": (1, [2])}, {"a": 2, "skip": 9}):
        r1, r2 = ref(**args), ref(**{**args, "skip": 7})
        n1, n2 = new(**args), new(**{**args, "skip": 7})
        assert repr(n1) == repr(r1)
        assert (n1 == n2) == (r1 == r2) is True  # a compare=False field is ignored
        if not any(isinstance(v, tuple) and v and isinstance(v[-1], list) for v in args.values()):
            assert hash(n1) == hash(r1)
    assert new(a=1) != new(a=2) and new(a=1) != ref(a=1)  # another class is never equal
    assert new(a=1).__eq__(object()) is NotImplemented
    assert [f.name for f in dataclasses.fields(new)] == [f.name for f in dataclasses.fields(ref)]
    assert dataclasses.replace(new(a=1), a=3) == new(a=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        new(a=1).a = 2


def test_hash_leaves_out_hash_false_fields():
    _, new = _pair()
    assert hash(new(a=1, nohash=(1,))) == hash(new(a=1, nohash=(2,)))


def test_recursive_repr_is_cut_as_dataclass_cuts_it():
    ref, new = _pair()
    holder_r, holder_n = [], []
    r, n = ref(a=1, self_ref=holder_r), new(a=1, self_ref=holder_n)
    holder_r.append(r)
    holder_n.append(n)
    assert repr(n) == repr(r)


@frozen
class Point:  # module level, so pickle can find it
    x: int
    y: int = 0
    tags: tuple = dataclasses.field(default=(), compare=False)


@frozen
class Point3(Point):
    z: int = 0

    def __post_init__(self):
        object.__setattr__(self, "norm", abs(self.x) + abs(self.y) + abs(self.z))


@pytest.mark.parametrize("cls", [Point, Point3])
def test_nothing_changes_after_init(cls):
    p = cls(1, 2)
    for name in ("x", "y", "tags", "never_a_field"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(p, name, 5)
    for name in ("x", "never_a_field"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(p, name)
    assert (p.x, p.y) == (1, 2)


def test_defaults_post_init_inheritance_copy_and_pickle_work_as_dataclass_makes_them():
    p = Point3(-1, z=2)
    assert (p.x, p.y, p.z, p.norm) == (-1, 0, 2, 3)
    assert [f.name for f in dataclasses.fields(Point3)] == ["x", "y", "tags", "z"]
    for clone in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert clone == p and hash(clone) == hash(p) and clone.norm == 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            clone.x = 9
    assert dataclasses.replace(p, y=4) == Point3(-1, 4, z=2)
    assert Point(1, tags=("a",)) == Point(1, tags=("b",))  # compare=False, as dataclass
    assert {Point(1): "one"}[Point(1)] == "one"


def test_a_class_with_its_own_eq_is_refused():
    with pytest.raises(TypeError, match="defines __eq__"):
        @frozen
        class Own:
            a: int

            def __eq__(self, other):
                return True


def test_the_frozen_classes_on_a_builds_import_path_compile_only_their_init():
    """Start-up: these are on every build's import path (docs/benchmarks.md, Builder, session 4)."""
    import importlib
    import pkgutil

    import imgtool.builder
    import imgtool.dockerfile
    import imgtool.layer
    import imgtool.oci
    import imgtool.store
    from imgtool import frozen as shared

    names = ["imgtool.runtime.step", "imgtool.runtime.users"]
    for package in (imgtool.dockerfile, imgtool.oci, imgtool.builder, imgtool.store, imgtool.layer):
        names += [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    classes = []
    for name in names:
        module = importlib.import_module(name)
        classes += [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__
                    and dataclasses.is_dataclass(c)
                    and (c.__dataclass_params__.frozen or c.__setattr__ is shared._setattr)
                    and not c.__dataclass_params__.order and "__init__" in c.__dict__]
    assert len(classes) > 50
    for cls in classes:
        assert (cls.__eq__, cls.__hash__, cls.__repr__, cls.__setattr__, cls.__delattr__) == (
            shared._eq, shared._hash, shared._repr, shared._setattr, shared._delattr), cls
