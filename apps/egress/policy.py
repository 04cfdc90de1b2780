"""The operator's egress policy and the one decision every outbound call gets.

:func:`decide` is pure: given an extension, the host and port it asked for
and the addresses that host resolved to, it says whether the connection may
go, and if not, by which rule. ctx.http's pinned connector asks it; so can a
forward proxy or a gateway relay for isolated workers, with the same answer.

Settings (read by :func:`current_policy`, validated at startup):
- ``IMPERAL_EGRESS_ALLOW``: JSON object (or dict) app id -> list of entries,
  each ``host``, ``host:port``, an IP address (``[v6]:port`` with a port) or a
  CIDR network. An entry lets that extension reach what it names even when
  it is not public.
- ``IMPERAL_EGRESS_PUBLIC``: when false, an extension reaches only its entries.
"""

import functools
import ipaddress
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .addresses import refusal_reason

ALLOW_SETTING = "IMPERAL_EGRESS_ALLOW"
PUBLIC_SETTING = "IMPERAL_EGRESS_PUBLIC"
NOT_ALLOWED = "not-allowed"  # public destinations are off and no entry names it
ENTRY_RULE = (
    'a host, host:port, IP address or CIDR network (e.g. "api.example.com", '
    '"127.0.0.1:9993", "[::1]:8080", "10.0.0.0/8")'
)
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_BRACKETED = re.compile(r"\[([^\]]+)\](?::(\d+))?")


@dataclass(frozen=True)
class AllowEntry:
    """One IMPERAL_EGRESS_ALLOW entry: a host name or a network, maybe one port."""

    text: str
    host: str = None
    network: object = None
    port: int = None

    def matches(self, host, port, address):
        """Return whether a connection to ``address`` for ``host``:``port`` is named here."""
        if self.port is not None and port != self.port:
            return False
        if self.host is not None:
            return normal_host(host) == self.host
        return address.version == self.network.version and address in self.network


@dataclass(frozen=True)
class Policy:
    """Per-extension allow entries, and whether public destinations are open to all."""

    allow: dict
    public: bool = True

    def entries(self, app_id):
        return self.allow.get(app_id, ())


@dataclass(frozen=True)
class Verdict:
    """The decision on one connection: ``allowed``, else ``rule`` and ``reason``."""

    allowed: bool
    addresses: tuple = ()
    rule: str = None
    reason: str = ""
    address: object = None


def decide(policy, app_id, host, port, addresses):
    """Return the Verdict on ``app_id`` connecting to ``host``:``port`` at ``addresses``.

    Every address must pass (a name that resolves to one public and one
    private address is refused): named by one of the extension's entries,
    or public while IMPERAL_EGRESS_PUBLIC is on.
    """
    entries = policy.entries(app_id)
    for address in addresses:
        if any(entry.matches(host, port, address) for entry in entries):
            continue
        reason = refusal_reason(address)
        if reason is None and policy.public:
            continue
        rule, words = reason or (
            NOT_ALLOWED,
            "public, but this deployment allows "
            "extensions only the destinations listed for them",
        )
        return Verdict(False, rule=rule, reason=words, address=address)
    return Verdict(True, addresses=tuple(addresses))


def normal_host(host):
    """Return ``host`` as entries compare it: lower case, no trailing dot or brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


@functools.cache
def current_policy():
    """Return the Policy of the settings; ImproperlyConfigured names the bad key."""
    return parse_policy(
        getattr(settings, ALLOW_SETTING, {}), getattr(settings, PUBLIC_SETTING, True)
    )


def reset_policy(**kwargs):
    """Forget the parsed policy (a setting_changed receiver; tests change it)."""
    current_policy.cache_clear()


def parse_policy(allow, public=True):
    """Return the Policy of an IMPERAL_EGRESS_ALLOW value (JSON text or dict).

    Raises ImproperlyConfigured naming the offending key and entry.
    """
    if isinstance(allow, str):
        try:
            allow = json.loads(allow or "{}")
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(
                f"{ALLOW_SETTING} is not valid JSON: {exc}"
            ) from None
    if not isinstance(allow, dict):
        raise ImproperlyConfigured(
            f"{ALLOW_SETTING} must be a JSON object of app id -> list of entries, "
            f"got {type(allow).__name__}"
        )
    parsed = {}
    for app_id, entries in allow.items():
        where = f"{ALLOW_SETTING}[{app_id!r}]"
        if not isinstance(entries, list):
            raise ImproperlyConfigured(
                f"{where} must be a list of entries, each {ENTRY_RULE}"
            )
        parsed[app_id] = tuple(
            parse_entry(entry, f"{where}[{index}]")
            for index, entry in enumerate(entries)
        )
    if not isinstance(public, bool):
        raise ImproperlyConfigured(
            f"{PUBLIC_SETTING} must be true or false, got {public!r}"
        )
    return Policy(parsed, public)


def parse_entry(text, where="entry"):
    """Return the AllowEntry of ``text``; ImproperlyConfigured naming ``where`` if invalid."""
    try:
        return _parse_entry(text)
    except (ValueError, TypeError, AttributeError):
        raise ImproperlyConfigured(
            f"{where}: {text!r:.80} is not {ENTRY_RULE}"
        ) from None


def _parse_entry(text):
    entry = text.strip()
    if "/" in entry:
        return AllowEntry(text, network=ipaddress.ip_network(entry, strict=False))
    host, port = _split_port(entry)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = normal_host(host.encode("idna").decode("ascii"))
        if not HOSTNAME.fullmatch(name):
            raise
        return AllowEntry(text, host=name, port=port)
    return AllowEntry(text, network=ipaddress.ip_network(address), port=port)


def _split_port(entry):
    bracketed = _BRACKETED.fullmatch(entry)
    if bracketed:
        return bracketed.group(1), _port(bracketed.group(2))
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, _port(port)
    return entry, None


def _port(text):
    if text is None:
        return None
    port = int(text)
    if not 0 < port < 65536 or not text.isdigit():
        raise ValueError(f"port {text!r}")
    return port
