"""Frozen records for the core's commands and decisions, made without ``dataclasses``.

Creating a frozen dataclass costs about 3.6 M instructions (its methods are written out as text
and compiled, one by one): the eight internal records below the public types were a fifth of
``import httpx_remedy``. A :class:`Record` subclass lists its fields as annotations, as a
dataclass does, and gets what the core uses of one from the generic methods here, made once:

- ``__init__`` by position or by name, a field's class value as its default;
- ``__repr__`` (``Sleep(seconds=1.0, always=False, cancel=None)``);
- ``__eq__`` (same type, equal fields) and ``__hash__`` (of the fields);
- ``__match_args__``, and assignment refused with ``dataclasses.FrozenInstanceError``.

Public types stay dataclasses: users may call ``dataclasses.fields`` and ``replace`` on them.
"""

from __future__ import annotations

import inspect
from dataclasses import FrozenInstanceError
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Any:
        return lambda cls: cls


_MISSING: Any = object()


@dataclass_transform(frozen_default=True, eq_default=True)
class Record:
    """The base of a frozen record: see the module's docstring."""

    __slots__ = ()
    #: The fields, in order (the class's annotations after its bases').
    _fields: ClassVar[tuple[str, ...]] = ()
    #: Field -> default, for the fields that have one.
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [
            name
            for name, kind in inspect.get_annotations(cls).items()
            if not str(kind).startswith(("ClassVar", "typing.ClassVar"))
        ]
        cls._fields = (*cls._fields, *own)
        cls._defaults = {
            **cls._defaults,
            **{name: cls.__dict__[name] for name in own if name in cls.__dict__},
        }
        setattr(cls, "__match_args__", cls._fields)  # noqa: B010 - mypy will not have it assigned

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        name = type(self).__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments but {len(args)} were given")
        assign = object.__setattr__
        for field, value in zip(fields, args, strict=False):
            assign(self, field, value)
        for field, value in kwargs.items():
            if field not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {field!r}")
            if fields.index(field) < len(args):
                raise TypeError(f"{name}() got multiple values for argument {field!r}")
            assign(self, field, value)
        for field in fields[len(args) :]:
            if field not in kwargs:
                default = self._defaults.get(field, _MISSING)
                if default is _MISSING:
                    raise TypeError(f"{name}() missing required argument: {field!r}")
                assign(self, field, default)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
