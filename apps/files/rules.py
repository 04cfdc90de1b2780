"""ctx.storage's rules, checked before any write: paths, prefixes, content types, sizes.

Every rule has a name and a message stating it; a refusal names the rule and
the offending value. A path is the extension's own name for a file inside its
user's partition, never a location on a disk or in a bucket (apps.files.core
stores each file under a key of its own), so these rules keep names portable
and readable rather than keep anything from escaping.
"""

import re

from django.conf import settings

from apps.accounts.security import record_threat

from .errors import FileTooLarge

PATH_MAX_CHARS = 512
SEGMENT_MAX_CHARS = 255
CONTENT_TYPE_MAX_CHARS = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Letters and digits of any script, and these: space - _ . ~ ( ) + , = @ ' ! &
_SEGMENT = re.compile(r"[\w\-.~()+,=@'!& ]+")
PATH_RULE = (
    f"a relative path of 1 to {PATH_MAX_CHARS} characters: segments separated "
    f"by '/', each 1 to {SEGMENT_MAX_CHARS} letters, digits, spaces or "
    "- _ . ~ ( ) + , = @ ' ! &, not '.' or '..', not starting or ending with a "
    "space; no leading or trailing '/', no '//', no backslash or control character"
)
PREFIX_RULE = "empty, or the start of a path (the same characters; it may end with '/')"
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]+"
_CONTENT_TYPE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|\"[^\"\\\x00-\x1f]*\"))*"
)
CONTENT_TYPE_RULE = (
    f"a media type 'type/subtype' with optional '; name=value' parameters, at most "
    f"{CONTENT_TYPE_MAX_CHARS} characters"
)
# What a refusal of these records as a SecurityEvent: names that would climb out
# of a directory or start at a root, were the path ever used as one.
TRAVERSAL_KIND = "storage_path_traversal"


def check_path(partition, path, what="path"):
    """Return ``path`` when it keeps PATH_RULE; raise ValueError naming the rule.

    A '..' segment or an absolute path (what a path trick looks like) is also
    recorded as a SecurityEvent of ``partition``.
    """
    if not isinstance(path, str):
        raise TypeError(
            f"ctx.storage: {what} must be a string ({PATH_RULE}), "
            f"got {type(path).__name__}"
        )
    problem = _path_problem(path)
    if problem is None:
        return path
    if problem in ("a '..' segment", "a leading '/'", "a backslash"):
        record_threat(TRAVERSAL_KIND, partition, path=path[:120], rule=problem)
    raise ValueError(
        f"ctx.storage: {what} {path[:120]!r} breaks the path rule ({problem}): "
        f"it must be {PATH_RULE}"
    )


def _path_problem(path):
    if not path:
        return "empty"
    if len(path) > PATH_MAX_CHARS:
        return f"{len(path)} characters, over {PATH_MAX_CHARS}"
    if "\\" in path:
        return "a backslash"
    if path.startswith("/"):
        return "a leading '/'"
    for segment in path.split("/"):
        problem = _segment_problem(segment)
        if problem:
            return problem
    return None


def _segment_problem(segment):
    if segment == "..":
        return "a '..' segment"
    if segment in ("", "."):
        return "an empty or '.' segment"
    if len(segment) > SEGMENT_MAX_CHARS:
        return f"a segment of {len(segment)} characters, over {SEGMENT_MAX_CHARS}"
    if segment != segment.strip(" "):
        return "a segment starting or ending with a space"
    if not _SEGMENT.fullmatch(segment) or not segment.isprintable():
        return "a character outside the allowed set"
    return None


def check_prefix(partition, prefix):
    """Return ``prefix`` when it is "" or the start of a valid path; else ValueError."""
    if prefix is None or prefix == "":
        return ""
    if not isinstance(prefix, str):
        raise TypeError(
            f"ctx.storage: prefix must be a string ({PREFIX_RULE}), "
            f"got {type(prefix).__name__}"
        )
    check_path(partition, prefix[:-1] if prefix.endswith("/") else prefix, "prefix")
    return prefix


def check_content_type(content_type):
    """Return the content type to store ('' or None: DEFAULT_CONTENT_TYPE).

    Raises ValueError when it breaks CONTENT_TYPE_RULE or is not in
    IMPERAL_STORAGE_CONTENT_TYPES (when the operator set that list).
    """
    if content_type is None or content_type == "":
        content_type = DEFAULT_CONTENT_TYPE
    if not isinstance(content_type, str):
        raise TypeError(
            f"ctx.storage: content_type must be a string ({CONTENT_TYPE_RULE}), "
            f"got {type(content_type).__name__}"
        )
    if len(content_type) > CONTENT_TYPE_MAX_CHARS or not _CONTENT_TYPE.fullmatch(
        content_type
    ):
        raise ValueError(
            f"ctx.storage: content_type {content_type[:80]!r} breaks the content "
            f"type rule: it must be {CONTENT_TYPE_RULE}"
        )
    allowed = settings.IMPERAL_STORAGE_CONTENT_TYPES
    media_type = content_type.split(";", 1)[0].strip().lower()
    if allowed and media_type not in allowed:
        raise ValueError(
            f"ctx.storage: content type {media_type!r} is not one this platform "
            f"stores (IMPERAL_STORAGE_CONTENT_TYPES: {', '.join(allowed)})"
        )
    return content_type


def check_size(size):
    """Return ``size`` when it is at most IMPERAL_STORAGE_MAX_FILE_BYTES; else
    FileTooLarge naming the limit."""
    limit = settings.IMPERAL_STORAGE_MAX_FILE_BYTES
    if size > limit:
        raise FileTooLarge(
            f"ctx.storage: a file of {size} bytes is over the limit of {limit} "
            "bytes (rule size, IMPERAL_STORAGE_MAX_FILE_BYTES)",
            size=size,
            limit=limit,
        )
    return size
