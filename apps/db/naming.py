"""Names of an extension's database objects, derived from its app_id.

A name is readable (the app_id, sanitized) and collision-free (a hash of the
exact app_id): ``my-app`` and ``my_app`` get different schemas.
"""

import hashlib
import hmac
import re

_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1
_HASH_CHARS = 8


def slug(app_id, max_length=32):
    """Return ``app_id`` lowercased with every run of other characters as ``_``."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", app_id.lower()).strip("_")
    return cleaned[:max_length] or "ext"


def digest(*parts):
    """Return a short, stable hex digest of ``parts``."""
    joined = "\x00".join(parts).encode()
    return hashlib.sha256(joined).hexdigest()[:_HASH_CHARS]


def schema_name(app_id):
    """Return the PostgreSQL schema holding ``app_id``'s tables: ``ext_<slug>_<hash>``."""
    return f"ext_{slug(app_id)}_{digest(app_id)}"


def role_name(prefix, database, app_id):
    """Return the login role of ``app_id`` in ``database``.

    Roles are cluster-wide, so the hash covers the database name too: two
    deployments (or two test runs) on one server never share a role.
    """
    name = f"{prefix}{slug(app_id, 24)}_{digest(database, app_id)}"
    if len(name) > _MAX_IDENTIFIER:
        raise ValueError(
            f"role name {name!r} is longer than {_MAX_IDENTIFIER} characters; "
            "shorten IMPERAL_DB_ROLE_PREFIX"
        )
    return name


def role_password(secret, role):
    """Return the password of ``role``: an HMAC of its name, never stored anywhere."""
    return hmac.new(secret.encode(), role.encode(), hashlib.sha256).hexdigest()


def sqlite_filename(app_id):
    """Return the file name of ``app_id``'s SQLite database."""
    return f"{slug(app_id)}_{digest(app_id)}.sqlite3"
