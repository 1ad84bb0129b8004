"""Frozen records for the core's commands and decisions, made without ``dataclasses``.

Creating a frozen dataclass costs about 3.6 M instructions (its methods are written out as text
and compiled, one by one): the eight internal records below the public types were a fifth of
``import httpx_remedy``. A :class:`Record` subclass lists its fields as annotations, as a
dataclass does, and gets what the core uses of one:

- ``__init__`` by position or by name, a field's class value as its default: compiled for the
  class by its first instance (the cost a dataclass pays at import, paid at the first failed
  request instead; the records are made by the recovery flows only), as fast as a dataclass's;
- ``__repr__`` (``Sleep(seconds=1.0, always=False, cancel=None)``), ``__eq__`` (same type,
  equal fields) and ``__hash__`` (of the fields), generic, made once for every record;
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
        # Refused when the class is made, as a dataclass does (its __init__ could not take it).
        required = [field for field in cls._fields if field not in cls._defaults]
        if required and cls._fields.index(required[-1]) >= len(required):
            raise TypeError(
                f"{cls.__name__}: field {required[-1]!r} without a default follows one with"
            )
        setattr(cls, "__match_args__", cls._fields)  # noqa: B010 - mypy will not have it assigned
        if "__init__" not in cls.__dict__:
            # Its own entry, replaced by its first instance (a base's compiled one has other
            # fields); a class that writes its own __init__ keeps it.
            cls.__init__ = Record.__init__  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Each record class's first instance compiles the class's own __init__, as a dataclass
        # does when it is made: the cost moves from the import to the first failed request,
        # and every later record is made as fast as a dataclass's.
        cls = type(self)
        init = _init_of(cls)
        cls.__init__ = init  # type: ignore[method-assign]
        init(self, *args, **kwargs)

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


def _init_of(cls: type[Record]) -> Any:
    """The ``__init__`` of a record class, compiled from its fields: the values set as the
    instance's dict in one step, a field's default read from the class's defaults."""
    fields = cls._fields
    parameters = ", ".join(
        f"{field}=_defaults[{field!r}]" if field in cls._defaults else field for field in fields
    )
    values = ", ".join(f"{field!r}: {field}" for field in fields)
    source = f"def __init__(self, {parameters}):\n    _set(self, '__dict__', {{{values}}})\n"
    namespace: dict[str, Any] = {"_defaults": cls._defaults, "_set": object.__setattr__}
    exec(source, namespace)  # the field names are the class's own identifiers
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init
