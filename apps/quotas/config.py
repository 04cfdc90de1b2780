"""IMPERAL_QUOTAS: the operator's limits as code, validated whole at start.

The setting is a JSON object (or the same dict) of extension id -> limits::

    {"contacts": {"store.documents": 10000, "store.bytes": 50000000,
                  "users": {"alice": {"store.documents": 20000}}},
     "*": {"egress.calls": 60}}

``"*"`` holds the limits of every extension; ``users`` a user's own values
inside one extension. A limit is an integer >= 0 (0 refuses everything) or
null (no limit). Every error names the key it is about.
"""

import json
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from imperal_sdk.manifest_schema import APP_ID_PATTERN

from apps.accounts.ids import is_valid_user_id

from .kinds import KIND_RULE, KINDS

SETTING = "IMPERAL_QUOTAS"
EVERY_EXTENSION = "*"
USERS_KEY = "users"
LIMIT_MAX = 2**62  # fits every BIGINT column, with room for a sum
LIMIT_RULE = f"a limit is an integer from 0 to {LIMIT_MAX}, or null for no limit"


@dataclass(frozen=True)
class Limits:
    """The parsed setting: {(app_id, user_id or ""): {kind: limit or None}}."""

    values: dict

    def entries(self, key):
        """Return {kind: limit} set for (app_id, user_id or ""), or None."""
        return self.values.get(key)


def parse(value):
    """Return the Limits of an IMPERAL_QUOTAS value (JSON text, a dict, or empty).

    Raises ImproperlyConfigured naming the offending key and the rule.
    """
    if value in (None, ""):
        return Limits({})
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{SETTING} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"{SETTING} must be a JSON object of extension id -> limits, got "
            f"{type(value).__name__}"
        )
    values = {}
    for app_id, entry in value.items():
        where = f"{SETTING}[{app_id!r}]"
        if app_id != EVERY_EXTENSION and not _is_app_id(app_id):
            raise ImproperlyConfigured(
                f"{where}: an extension id matches {APP_ID_PATTERN.pattern} (or is "
                "'*' for every extension)"
            )
        users = _object(entry, where).get(USERS_KEY, {})
        values[(app_id, "")] = _kinds(
            {k: v for k, v in entry.items() if k != USERS_KEY}, where
        )
        if users and app_id == EVERY_EXTENSION:
            raise ImproperlyConfigured(
                f"{where}[{USERS_KEY!r}]: a user's own limits belong to one extension"
            )
        for user_id, user_entry in _object(users, f"{where}[{USERS_KEY!r}]").items():
            user_where = f"{where}[{USERS_KEY!r}][{user_id!r}]"
            if not is_valid_user_id(user_id):
                raise ImproperlyConfigured(f"{user_where}: not a valid user id")
            values[(app_id, user_id)] = _kinds(
                _object(user_entry, user_where), user_where
            )
    return Limits(values)


def check_limit(value, where):
    """Return ``value`` if it is a limit (see LIMIT_RULE); else raise ValueError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {LIMIT_RULE}; got {value!r:.40}")
    if not 0 <= value <= LIMIT_MAX:
        raise ValueError(f"{where}: {LIMIT_RULE}; got {value}")
    return value


def _kinds(entry, where):
    limits = {}
    for kind, limit in entry.items():
        if kind not in KINDS:
            raise ImproperlyConfigured(f"{where}[{kind!r}]: {KIND_RULE}")
        try:
            limits[kind] = check_limit(limit, f"{where}[{kind!r}]")
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
    return limits


def _object(value, where):
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"{where} must be a JSON object, got {type(value).__name__}"
        )
    return value


def _is_app_id(value):
    return isinstance(value, str) and APP_ID_PATTERN.match(value) is not None
