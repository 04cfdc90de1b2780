"""A worker binds a call's params with one pydantic model per handler."""

import pytest
from pydantic import ValidationError

from apps.runtime.worker.binding import signature_of


async def greet(ctx, name: str, times: int = 1):
    return name * times


async def other(ctx, name: str):
    return name


def test_a_handlers_signature_is_built_once_and_binds_each_call():
    first = signature_of(greet)

    assert signature_of(greet) is first
    assert first.kwargs_of({"name": "a", "times": "2"}) == {"name": "a", "times": 2}
    assert first.kwargs_of({"name": "b"}) == {"name": "b", "times": 1}


def test_each_handler_has_its_own_signature():
    assert signature_of(other) is not signature_of(greet)
    with pytest.raises(ValidationError, match="times"):
        signature_of(other).kwargs_of({"name": "a", "times": 2})
