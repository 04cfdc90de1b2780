"""Validate tool and panel params against the handler's signature with pydantic."""

import inspect
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .errors import InvalidParams


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

    def bind(self, label, params):
        """Return the keyword arguments to call the handler with after ``ctx``.

        Raises InvalidParams naming each missing, unknown or mistyped param.
        """
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise InvalidParams(
                label,
                [("*", f"params must be a JSON object, got {type(params).__name__}")],
            )
        if self.model_param is not None:
            _refuse_unknown(label, self.model, params)
        try:
            validated = self.model.model_validate(params)
        except ValidationError as exc:
            raise InvalidParams(label, _problems(exc)) from None
        if self.model_param is not None:
            return {self.model_param.name: validated}
        kwargs = {
            name: getattr(validated, name) for name in type(validated).model_fields
        }
        kwargs.update(validated.model_extra or {})
        return kwargs

    def json_schema(self):
        """Return the JSON schema of the params (for listings and OpenAPI)."""
        return self.model.model_json_schema()


@cache
def signature_of(func):
    """Return the (cached) HandlerSignature of ``func``."""
    return HandlerSignature(func)


def _type_hints(func):
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: validate those params as Any
        return {}


def _is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _refuse_unknown(label, model, params):
    """Refuse keys a params model would silently ignore (its default ``extra``)."""
    if model.model_config.get("extra") in ("allow", "forbid"):
        return  # kept, or refused by pydantic itself
    known = set()
    for name, field in model.model_fields.items():
        aliases = (field.alias, field.validation_alias)
        known.update({name, *(a for a in aliases if isinstance(a, str))})
    unknown = sorted(key for key in params if key not in known)
    if unknown:
        raise InvalidParams(label, [(key, "unknown param") for key in unknown])


def _problems(exc):
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "*"
        if error["type"] == "extra_forbidden":
            problems.append((name, "unknown param"))
        elif error["type"] == "missing":
            problems.append((name, "missing (required)"))
        else:
            problems.append((name, f"{error['msg']} (got {error.get('input')!r:.60})"))
    return problems
