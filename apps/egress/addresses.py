"""Which IP addresses an extension's outbound call may reach without an operator's say.

One rule, :func:`refusal_reason`: a public (globally routable unicast) address
passes; loopback, private, link-local (cloud metadata at 169.254.169.254),
multicast, reserved, unspecified and other special-purpose ranges do not.
An IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64
``64:ff9b::/96`` and ``64:ff9b:1::/48``) is refused when the IPv4 address is.

``ipaddress.is_global`` alone is not enough: on this Python it calls
multicast (224.0.0.0/4, ff00::/8) and 192.0.0.0/24 global, and it knows
nothing of the IPv4 address inside a NAT64 or 6to4 one. Each property is
checked by name, so the reason can be told.
"""

import ipaddress

# The IPv4 address inside the well-known NAT64 prefix is what a translator
# connects to (DNS64 answers with it for IPv4-only hosts): that form is judged
# by its IPv4 address alone. The local-use prefix is checked both ways.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_PREFIXES = (NAT64_WELL_KNOWN, ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Special-purpose IPv4 ranges that this Python's flags miss (RFC 6890).
EXTRA_SPECIAL = (
    ("shared (carrier-grade NAT)", ipaddress.ip_network("100.64.0.0/10")),
    ("reserved", ipaddress.ip_network("192.0.0.0/24")),
)

# The rule names an error and an OutboundCall's error code use.
LOOPBACK = "loopback"
PRIVATE = "private"
LINK_LOCAL = "link-local"
MULTICAST = "multicast"
RESERVED = "reserved"
UNSPECIFIED = "unspecified"
NON_GLOBAL = "non-global"
ADDRESS_RULES = (
    LOOPBACK,
    PRIVATE,
    LINK_LOCAL,
    MULTICAST,
    RESERVED,
    UNSPECIFIED,
    NON_GLOBAL,
)


def refusal_reason(address):
    """Return why ``address`` (an ip_address) is not public — (rule, words) — or None.

    ``rule`` is one of ADDRESS_RULES; ``words`` says it for a person, naming
    the embedded IPv4 address when that is what decided.
    """
    for form, embedded in embedded_ipv4(address):
        reason = _own_reason(embedded)
        if reason is not None:
            rule, words = reason
            return rule, f"{words} ({embedded} in {form} form)"
    if _translates(address):
        return None  # judged by its IPv4 address, which passed
    return _own_reason(address)


def embedded_ipv4(address):
    """Return [(form, IPv4Address)] for each IPv4 address ``address`` carries."""
    if address.version != 6:
        return []
    found = []
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    elif address in IPV4_COMPATIBLE and int(address) > 1:
        found.append(("IPv4-compatible", ipaddress.IPv4Address(int(address))))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    for prefix in NAT64_PREFIXES:
        if address in prefix:
            found.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    return found


def _translates(address):
    return address.version == 6 and (
        address.ipv4_mapped is not None or address in NAT64_WELL_KNOWN
    )


def _own_reason(address):
    checks = (
        (address.is_unspecified, UNSPECIFIED, "the unspecified address"),
        (address.is_loopback, LOOPBACK, "a loopback address"),
        (address.is_link_local, LINK_LOCAL, "a link-local address"),
        (address.is_multicast, MULTICAST, "a multicast address"),
        (address.is_reserved, RESERVED, "a reserved address"),
        (address.is_private, PRIVATE, "a private address"),
        (getattr(address, "is_site_local", False), PRIVATE, "a site-local address"),
    )
    for flagged, rule, words in checks:
        if flagged:
            return rule, words
    for words, network in EXTRA_SPECIAL:
        if address.version == network.version and address in network:
            return (PRIVATE if "shared" in words else RESERVED), f"a {words} address"
    if not address.is_global:
        return NON_GLOBAL, "not a globally routable address"
    return None
