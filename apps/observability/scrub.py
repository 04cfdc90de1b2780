"""Take obvious secrets out of a message or traceback before it is stored."""

import re

SCRUBBED = "[scrubbed]"

# key=value, key: value and "key": "value" where the key names a secret.
_NAMED = re.compile(
    r"""(?ix)
    (\b[a-z0-9]*[_-]?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|
         private[_-]?key|authorization|cookie|session[_-]?id|signature)\w*
     ["']?\s*[:=]\s*["']?)
    (?!(?:Bearer|Token|Basic|ImperalCallToken)\s)
    ([^\s"',;&}\]]+)
    """
)
# The credential after an HTTP authentication scheme.
_SCHEME = re.compile(  # before _NAMED, which leaves a scheme word alone
    r"(?i)\b(Bearer|Token|Basic|ImperalCallToken)(\s+)[A-Za-z0-9._~+/=:-]{8,}"
)
# user:password@ in a URL.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@", re.I)


def scrub(text):
    """Return ``text`` with values of secret-named keys, credentials after an
    authentication scheme and URL passwords replaced by SCRUBBED."""
    text = _URL_PASSWORD.sub(rf"\1:{SCRUBBED}@", text)
    text = _SCHEME.sub(rf"\1\2{SCRUBBED}", text)
    return _NAMED.sub(rf"\1{SCRUBBED}", text)
