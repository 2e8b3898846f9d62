"""`frozen`: `dataclass(frozen=True)` whose __eq__, __hash__ and __repr__ are shared, not compiled.

Why: dataclass compiles every method it generates from source text at import, ~60 us (0.36 M
instructions) each, and the start-up of a cached `imgtool build` defines ~70 dataclasses with ~380
such methods: about a third of the whole command (docs/benchmarks.md, Builder). A frozen class
needs its own __init__, __setattr__ and __delattr__, but its comparison, hash and repr only read
the field names, so one shared copy of each serves every class. They behave as dataclass's: equal
only to an instance of the very same class with equal compared fields, the hash of those fields'
tuple (fields with `hash=`/`compare=` as dataclass picks them), `Name(field=value, ...)` over the
`repr=True` fields with `...` for a recursive reference.
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


def frozen(cls: type | None = None, /, **options: Any) -> Any:
    """`@dataclass(frozen=True, **options)` with the shared __eq__/__hash__/__repr__ (see module doc).

    Why: the same class as dataclass makes, at half the methods compiled at import. A class that
    writes any of the three itself is refused, as its own would be silently replaced.
    """

    def wrap(cls: type) -> type:
        own = {"__eq__", "__hash__", "__repr__"} & set(cls.__dict__)
        if own:
            raise TypeError(f"{cls.__qualname__} defines {', '.join(sorted(own))}: use dataclass")
        cls = dataclasses.dataclass(cls, frozen=True, eq=False, repr=False, **options)
        cls.__eq__, cls.__hash__, cls.__repr__ = _eq, _hash, _repr
        return cls

    return wrap if cls is None else wrap(cls)
