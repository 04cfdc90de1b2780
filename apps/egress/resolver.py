"""Turning the host an extension asked for into the addresses the guard checks.

A resolver is the network edge of the egress guard: whatever it returns is
what is checked and then connected to, so a name is resolved exactly once
per connection (no second lookup for an attacker's DNS to answer differently).
Tests inject their own (any object with this ``resolve``) through the
constructor of the client. An address spelled as the host (in any form the C
library reads) is its own answer and never reaches a resolver.
"""

import asyncio
import ipaddress
import re
import socket
import urllib.parse

# What the C library's inet_aton reads as an IPv4 address ("2130706433",
# "0x7f.1", "127.1"): the same reading the connection would get.
_NUMERIC = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", re.I)


class SystemResolver:
    """The operating system's resolver (getaddrinfo), run off the event loop."""

    async def resolve(self, host, port):
        """Return the addresses the name ``host`` resolves to, in the resolver's order.

        Raises OSError (socket.gaierror) when the name does not resolve.
        """
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
        return unique(ipaddress.ip_address(info[4][0]) for info in infos)


async def addresses_of(host, port, resolver):
    """Return the addresses to check for ``host``: the address it spells, else
    ``resolver``'s answer for the name.

    Raises OSError when it is neither an address nor a name that resolves.
    """
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    if _NUMERIC.fullmatch(host):  # digits, but no address: never a DNS name
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is not an IP address")
    return tuple(await resolver.resolve(host, port))


def literal_address(host):
    """Return the ip_address ``host`` spells (brackets, zone ids, inet_aton forms), or None."""
    text = urllib.parse.unquote(host).strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def unique(addresses):
    """Return ``addresses`` without repeats, in their first order."""
    return tuple(dict.fromkeys(addresses))
