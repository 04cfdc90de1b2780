"""What a handler accepts after ``ctx``, as a pydantic model (no Django).

The kernel validates a call's params with it before anything runs (and names
each bad param, apps.extensions.params); a worker binds the same JSON params
with it again to get the typed values the handler is called with.
"""

import inspect
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model


class HandlerSignature:
    """What a handler accepts after ``ctx``: keyword params, or one pydantic model."""

    def __init__(self, func):
        self.func = func
        parameters = list(inspect.signature(func).parameters.values())[1:]
        hints = _type_hints(func)
        self.accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
        named = [
            p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        self.model_param = None
        if (
            len(named) == 1
            and _is_model(hints.get(named[0].name))
            and not self.accepts_any
        ):
            # `async def tool(ctx, params: MyParams)`: the whole params dict is the model.
            self.model_param = named[0]
            self.model = hints[named[0].name]
            return
        fields = {
            p.name: (hints.get(p.name, Any), ... if p.default is p.empty else p.default)
            for p in named
        }
        extra = "allow" if self.accepts_any else "forbid"
        self.model = create_model(
            f"{func.__name__}_params",
            __config__=ConfigDict(extra=extra, arbitrary_types_allowed=True),
            **fields,
        )

    def kwargs_of(self, params):
        """Return the keyword arguments for ``params``; raise pydantic's ValidationError."""
        validated = self.model.model_validate(params or {})
        if self.model_param is not None:
            return {self.model_param.name: validated}
        kwargs = {
            name: getattr(validated, name) for name in type(validated).model_fields
        }
        kwargs.update(validated.model_extra or {})
        return kwargs


@cache
def signature_of(func):
    """Return the HandlerSignature of ``func``, built once per handler.

    Building one makes a pydantic model, which costs about as much as the rest
    of a call's bookkeeping in a worker together.
    """
    return HandlerSignature(func)


def _type_hints(func):
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: validate those params as Any
        return {}


def _is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
