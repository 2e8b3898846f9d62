"""`frozen`: `dataclass(frozen=True)` whose methods, but for __init__, are shared, not compiled.

Why: dataclass compiles every method it generates from source text at import, ~60 us (0.36 M
instructions) each, and the start-up of a cached `imgtool build` defines ~70 dataclasses with ~380
such methods: about a third of the whole command (docs/benchmarks.md, Builder). Only __init__
depends on a class's fields in a way worth compiling; comparison, hash, repr and the refusal to
change read the field names, so one shared copy of each serves every class. They behave as
dataclass's: equal only to an instance of the very same class with equal compared fields, the hash
of those fields' tuple (fields with `hash=`/`compare=` as dataclass picks them), `Name(field=value,
...)` over the `repr=True` fields with `...` for a recursive reference, and FrozenInstanceError for
setting or deleting anything once __init__ has set the fields.

How the refusal works without dataclass's own: the class is made with `frozen=False`, so its
__init__ assigns each field through `__setattr__`, and the shared `__setattr__` lets a field be set
once (by __init__) and nothing else, ever. One visible difference: `__dataclass_params__.frozen` is
False, so a class made here and one made by `dataclass(frozen=True)` cannot inherit from each
other (dataclass refuses to mix); use `frozen` for both.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from typing import Any, Callable

# per class: (compared fields' getter, hashed fields' getter, repr field names), made on first use
_SHAPES: dict[type, tuple[Callable[[Any], tuple], Callable[[Any], tuple], tuple[str, ...]]] = {}


def _getter(names: list[str]) -> Callable[[Any], tuple]:
    if len(names) == 1:  # attrgetter of one name returns the value, not a 1-tuple
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return operator.attrgetter(*names) if names else lambda obj: ()


def _shape(cls: type) -> tuple[Callable[[Any], tuple], Callable[[Any], tuple], tuple[str, ...]]:
    try:
        return _SHAPES[cls]
    except KeyError:
        fields = dataclasses.fields(cls)
        shape = (_getter([f.name for f in fields if f.compare]),
                 _getter([f.name for f in fields if (f.compare if f.hash is None else f.hash)]),
                 tuple(f.name for f in fields if f.repr))
        _SHAPES[cls] = shape
        return shape


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        compared = _shape(self.__class__)[0]
        return compared(self) == compared(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(_shape(self.__class__)[1](self))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    names = _shape(self.__class__)[2]
    return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"


_set = object.__setattr__


def _setattr(self: Any, name: str, value: Any) -> None:
    # a field is set once, by __init__; nothing else is ever set (dataclass's frozen rule)
    if name in self.__dict__ or name not in self.__dataclass_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    _set(self, name, value)


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def frozen(cls: type | None = None, /, **options: Any) -> Any:
    """`@dataclass(frozen=True, **options)` with the shared methods (see module doc).

    Why: the same class as dataclass makes, with one method compiled at import instead of up to six.
    A class that writes any of those five itself is refused, as its own would be silently replaced
    (dataclass refuses its own __setattr__ on a frozen class too).
    """

    def wrap(cls: type) -> type:
        own = {"__eq__", "__hash__", "__repr__", "__setattr__", "__delattr__"} & set(cls.__dict__)
        if own:
            raise TypeError(f"{cls.__qualname__} defines {', '.join(sorted(own))}: use dataclass")
        cls = dataclasses.dataclass(cls, eq=False, repr=False, **options)
        cls.__eq__, cls.__hash__, cls.__repr__ = _eq, _hash, _repr
        cls.__setattr__, cls.__delattr__ = _setattr, _delattr
        return cls

    return wrap if cls is None else wrap(cls)
