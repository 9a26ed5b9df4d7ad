"""Speed-ups for the model's frozen attrs classes (x12dental.model), kept apart from them.

The model stays plain attrs data; these two helpers only change how fast its values are
made and how its classes are compiled at import: `fast_constructor` for the mapper, which
builds some twenty values per claim, and `value_methods` for start-up. Both are checked
against attrs' own behaviour in tests/test_mapper_model.py.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

import attrs

_T = TypeVar("_T")


def fast_constructor(cls: type[_T]) -> type[_T]:
    """A function that makes `cls` instances like `cls(...)` does, in under half the time.

    attrs' `__init__` for a frozen class stores each field with `object.__setattr__`
    (its own `__setattr__` refuses), a C call per field that was most of what the mapper
    spent building a claim's twenty-odd objects. The function returned here fills a plain
    slotted "draft" of the same layout with ordinary attribute stores, the fastest kind,
    then turns it into a `cls` by assigning `__class__`, which Python allows only between
    classes of identical slot layout (it raises otherwise, never mixes fields up). The
    result is an ordinary frozen `cls` instance, equal to what `cls(...)` makes.

    Same parameters and defaults as `cls`; typed as `type[_T]` so that mypy checks each
    call against the class's own constructor. Classes with validators, converters,
    factories or init hooks are refused: those would be skipped.
    """
    klass: Any = cls
    fields = attrs.fields(klass)
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        raise TypeError(f"{cls.__name__}: init hooks would be skipped")
    slots = cls.__dict__.get("__slots__")
    if slots is None or "__weakref__" in slots or cls.__bases__ != (object,):
        # __class__ assignment needs the same layout: slots only, all on the class itself.
        raise TypeError(f"{cls.__name__}: needs slots=True, weakref_slot=False, no base")
    params: list[str] = []
    namespace: dict[str, object] = {"_cls": cls}
    for i, field in enumerate(fields):
        if field.validator is not None or field.converter is not None or not field.init:
            raise TypeError(f"{cls.__name__}.{field.name}: would be skipped")
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            raise TypeError(f"{cls.__name__}.{field.name}: a factory would be skipped")
        if field.default is attrs.NOTHING:
            params.append(field.alias)
        else:
            namespace[f"_default_{i}"] = field.default
            params.append(f"{field.alias}=_default_{i}")
    namespace["_draft"] = type(
        f"_{cls.__name__}Draft", (), {"__slots__": slots, "__module__": cls.__module__}
    )
    stores = "".join(f"    self.{f.name} = {f.alias}\n" for f in fields)
    source = (
        f"def make_{cls.__name__}({', '.join(params)}):\n"
        "    self = object.__new__(_draft)\n"
        f"{stores}"
        "    self.__class__ = _cls\n"
        "    return self\n"
    )
    exec(compile(source, f"<fast_constructor {cls.__name__}>", "exec"), namespace)
    make: Any = namespace[f"make_{cls.__name__}"]
    make.__qualname__ = f"fast_constructor({cls.__qualname__})"
    make.__module__ = cls.__module__
    return make  # type: ignore[no-any-return]


def value_methods(cls: type[_T]) -> type[_T]:
    """Give a model class the repr, == and hash attrs would, from shared code.

    attrs compiles a `__repr__`, `__eq__` and `__hash__` of its own for every class;
    for the model's twenty-odd classes that compiling was a twentieth of the command
    line's start-up. These read the fields with one `attrgetter` instead: the same repr
    text (`Note(code='ADD', text='...', where=...)`), equal when of the same class with
    equal fields, and a hash from the fields (values stay usable as keys and in sets).
    """
    klass: Any = cls
    names = tuple(f.name for f in attrs.fields(klass))
    several = attrgetter(*names)
    values: Callable[[Any], tuple[Any, ...]]
    if len(names) > 1:
        values = several
    else:

        def values(obj: Any) -> tuple[Any, ...]:
            return (several(obj),)

    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, values(self), strict=True))
        return f"{self.__class__.__qualname__.rsplit('>.', 1)[-1]}({shown})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    salt = hash(names)  # as attrs does: equal fields of different classes hash apart

    def __hash__(self: Any) -> int:
        return hash((salt, values(self)))

    methods: dict[str, object] = {"__repr__": __repr__, "__eq__": __eq__, "__hash__": __hash__}
    for name, method in methods.items():
        setattr(cls, name, method)
    return cls
