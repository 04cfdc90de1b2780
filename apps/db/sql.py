"""Bind ``:name`` parameters with a SQL tokenizer, and refuse identity changes.

The tokenizer is sqlparse's lexer (the one Django itself depends on): string
literals, quoted identifiers, dollar-quoted bodies, ``--`` and ``/* */``
comments and ``::`` casts are tokens of their own, so only real ``:name``
placeholders are rewritten. SQLAlchemy's ``text()`` was rejected: it finds
parameters with a regular expression and rewrites ``:x`` inside literals and
comments while missing ``:x::int``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlparse import lexer
from sqlparse import tokens as T

from .errors import DbParameterError, DbPermissionError

# Placeholder styles by backend: both databases accept numbered placeholders,
# so a name used twice is bound once.
POSTGRES_STYLE = "${}"
SQLITE_STYLE = "?{}"

_IGNORED = (T.Whitespace, T.Newline, T.Comment)
# Statements that would change who the session acts as. On PostgreSQL the
# database refuses SET ROLE / SET SESSION AUTHORIZATION by itself; RESET ROLE
# only returns to the extension's own login role. All are refused here too, so
# an extension learns at once that ctx.db has exactly one identity.
_IDENTITY_STATEMENTS = (
    ("SET", "ROLE"),
    ("SET", "SESSION", "ROLE"),
    ("SET", "LOCAL", "ROLE"),
    ("RESET", "ROLE"),
    ("SET", "SESSION", "AUTHORIZATION"),
    ("SET", "LOCAL", "SESSION", "AUTHORIZATION"),
    ("SET", "SESSION", "SESSION", "AUTHORIZATION"),
    ("RESET", "SESSION", "AUTHORIZATION"),
)
_CACHE_SIZE = 1024


@dataclass(frozen=True)
class CompiledSql:
    """SQL rewritten for one placeholder style; ``names[i]`` binds placeholder i+1."""

    text: str
    names: tuple
    refusal: str = ""

    def bind(self, params):
        """Return the values for the placeholders, in order.

        Raises DbPermissionError for an identity-changing statement and
        DbParameterError when ``params`` is not a mapping or lacks a name.
        """
        if self.refusal:
            raise DbPermissionError(self.refusal, sqlstate="42501")
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise DbParameterError(
                f"params must be a mapping of :name values, got {type(params).__name__}"
            )
        missing = [name for name in self.names if name not in params]
        if missing:
            given = ", ".join(sorted(map(str, params))) or "none"
            raise DbParameterError(
                f"missing value for parameter(s) {', '.join(':' + n for n in missing)} "
                f"(params given: {given}); nothing was run"
            )
        return [params[name] for name in self.names]


@lru_cache(maxsize=_CACHE_SIZE)
def compile_sql(sql, style):
    """Return the CompiledSql of ``sql`` with ``:name`` rewritten to ``style``.

    ``style`` is POSTGRES_STYLE or SQLITE_STYLE. Raises TypeError when ``sql``
    is not a string.
    """
    if not isinstance(sql, str):
        raise TypeError(f"sql must be a string, got {type(sql).__name__}")
    names, parts, statement, refusal = [], [], [], ""
    for ttype, value in lexer.tokenize(sql):
        if ttype in T.Name.Placeholder and value.startswith(":") and len(value) > 1:
            name = value[1:]
            if name not in names:
                names.append(name)
            value = style.format(names.index(name) + 1)
        elif ttype is T.Punctuation and value == ";":
            refusal = refusal or _identity_refusal(statement)
            statement = []
        elif not any(ttype in ignored for ignored in _IGNORED):
            statement.append(value)
        parts.append(value)
    refusal = refusal or _identity_refusal(statement)
    return CompiledSql("".join(parts), tuple(names), refusal)


def _identity_refusal(statement):
    words = tuple(word.upper() for word in statement[:4])
    for pattern in _IDENTITY_STATEMENTS:
        if words[: len(pattern)] == pattern:
            return (
                f"permission denied: {' '.join(pattern)} is not allowed through ctx.db; "
                "an extension's SQL always runs as the extension's own role"
            )
    return ""
