"""The core's internal frozen records (``_record.Record``): what they keep of a dataclass."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

import httpx_remedy as remedy
from httpx_remedy._body import ReadBody
from httpx_remedy._commands import CallSource, Close, Locked, Send, Sleep, StoreOp
from httpx_remedy._policy import Decision
from httpx_remedy._record import Record

RECORDS = (Send, Close, Sleep, StoreOp, Locked, CallSource, ReadBody, Decision)


def test_a_record_is_made_by_position_or_by_name_with_its_defaults() -> None:
    event = threading.Event()
    assert Sleep(1.5) == Sleep(seconds=1.5) == Sleep(1.5, False, None)
    made = Sleep(2.0, cancel=event)
    assert (made.seconds, made.always, made.cancel) == (2.0, False, event)
    assert Decision(True, 3.0, "retry-after").wait_reason == "retry-after"
    assert Decision(False).cap is None


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, r"Sleep.__init__\(\) missing 1 required positional argument: 'seconds'"),
        ((1.0, True, None, "extra"), {}, r"Sleep.__init__\(\) takes from 2 to 4 positional"),
        ((1.0,), {"seconds": 2.0}, r"Sleep.__init__\(\) got multiple values for argument"),
        ((1.0,), {"sconds": 2.0}, r"Sleep.__init__\(\) got an unexpected keyword argument"),
    ],
)
def test_a_record_refuses_what_a_dataclass_refuses(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Sleep(*args, **kwargs)


def test_a_record_is_frozen_compared_by_type_and_fields_and_hashable() -> None:
    sleep = Sleep(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sleep.seconds = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del sleep.always
    assert sleep != Sleep(2.0)
    same: Any = object()
    assert Close(same) != Send(same)  # the same field values, another command
    assert len({Sleep(1.0), Sleep(1.0), Sleep(2.0)}) == 2


def test_a_records_repr_and_match_args_are_a_dataclasses() -> None:
    assert repr(Sleep(1.0)) == "Sleep(seconds=1.0, always=False, cancel=None)"
    assert Decision.__match_args__ == ("retry", "wait", "wait_reason", "note", "cap")
    match Decision(True, 2.0):
        case Decision(True, wait):
            assert wait == 2.0
        case _:  # pragma: no cover - the case above matches
            pytest.fail("no match")


def test_a_subclass_of_a_record_adds_its_fields_after_its_bases() -> None:
    class Base(Record):
        first: int
        second: str = "b"

    class Child(Base):
        third: float = 0.5

    assert repr(Base(0)).endswith("Base(first=0, second='b')")  # compiles Base's own __init__
    assert Child._fields == ("first", "second", "third")
    # The qualified name, as a dataclass's repr has it (a class made in a function here).
    assert repr(Child(1)).endswith(".<locals>.Child(first=1, second='b', third=0.5)")


def test_the_internal_records_are_records_and_the_public_types_stay_dataclasses() -> None:
    # Creating a frozen dataclass costs about 3.6 M instructions at import (_record's docstring);
    # users may call dataclasses.replace or fields on the public types.
    for kind in RECORDS:
        assert issubclass(kind, Record)
        assert not dataclasses.is_dataclass(kind)
    for public in (remedy.Retry, remedy.Attempt, remedy.Token, remedy.Entry):
        assert dataclasses.is_dataclass(public)


def test_a_field_without_a_default_after_one_with_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="field 'late' without a default follows one with"):

        class Wrong(Record):
            early: int = 0
            late: str  # type: ignore[misc]


def test_a_record_that_writes_its_own_init_keeps_it() -> None:
    class Scaled(Record):
        value: float

        def __init__(self, value: float) -> None:
            object.__setattr__(self, "value", value * 2)

    assert Scaled(2.0).value == 4.0
    assert Scaled(2.0).value == 4.0  # not replaced by a compiled one after the first
