"""The egress guard: the one check every outbound connection made for an extension
passes, and what a refusal leaves behind.

:class:`Guard` is bound to one caller (a partition: tenant, extension, user).
``admit(host, port)`` resolves the host once (through the injected resolver),
asks :func:`apps.egress.policy.decide`, and returns the addresses to connect
to — or records a SecurityEvent and raises EgressRefused naming the rule and
the host. :func:`check_scheme` is the URL-level half (http and https only).
"""

import httpcore

from apps.accounts.security import record_threat

from .errors import EgressRefused
from .policy import current_policy, decide
from .resolver import SystemResolver, addresses_of

THREAT_KIND = "egress_refused"
ALLOWED_SCHEMES = ("http", "https")
SCHEME = "scheme"


class Guard:
    """Resolve, decide and connect-or-refuse, for one caller's connections."""

    def __init__(self, partition, resolver=None, policy=None):
        self.partition = partition
        self.resolver = resolver or SystemResolver()
        self._policy = policy

    async def admit(self, host, port):
        """Return the checked addresses of ``host`` to connect to on ``port``.

        Raises EgressRefused (recorded) when the policy refuses any of them;
        httpcore.ConnectError (httpx's ConnectError to the caller) when the
        name does not resolve.
        """
        try:
            addresses = await addresses_of(host, port, self.resolver)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host!r} did not resolve: {exc}") from exc
        policy = self._policy or current_policy()
        verdict = decide(policy, self.partition.app_id, host, port, addresses)
        if verdict.allowed:
            return verdict.addresses
        shown = f"{host}:{port}"
        where = (
            shown if str(verdict.address) == host else f"{shown} ({verdict.address})"
        )
        raise refuse(
            self.partition,
            verdict.rule,
            host,
            f"ctx.http refused the connection to {where} for extension "
            f"{self.partition.app_id!r}: {verdict.address} is {verdict.reason} "
            f"(rule {verdict.rule}); an operator may allow it for this extension "
            "in IMPERAL_EGRESS_ALLOW",
            port=port,
            address=str(verdict.address),
        )


def check_scheme(partition, url):
    """Return None for an http or https ``url`` (an httpx.URL); else refuse (recorded)."""
    if url.scheme in ALLOWED_SCHEMES:
        return
    raise refuse(
        partition,
        SCHEME,
        url.host,
        f"ctx.http refused a {url.scheme or 'scheme-less'} URL to {url.host or '?'} "
        f"for extension {partition.app_id!r}: only http and https are allowed "
        "(rule scheme)",
        scheme=url.scheme,
    )


def refuse(partition, rule, host, message, **detail):
    """Record the refusal (SecurityEvent + threat counter); return its EgressRefused."""
    record_threat(THREAT_KIND, partition, rule=rule, host=host, **detail)
    return EgressRefused(message, rule=rule, host=host)
