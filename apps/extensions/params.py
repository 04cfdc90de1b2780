"""Validate tool and panel params against the handler's signature with pydantic."""

from functools import cache

from pydantic import ValidationError

from apps.runtime.worker import binding

from .errors import InvalidParams


class HandlerSignature(binding.HandlerSignature):
    """What a handler accepts after ``ctx`` (apps.runtime.worker.binding), validated
    here with errors that name each bad param."""

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
            return self.kwargs_of(params)
        except ValidationError as exc:
            raise InvalidParams(label, _problems(exc)) from None

    def json_schema(self):
        """Return the JSON schema of the params (for listings and OpenAPI)."""
        return self.model.model_json_schema()


@cache
def signature_of(func):
    """Return the (cached) HandlerSignature of ``func``."""
    return HandlerSignature(func)


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
