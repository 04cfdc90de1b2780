"""Copying bytes between two asyncio stream pairs: a proxy's tunnel, a forwarder's link."""

import asyncio
import socket

RELAY_CHUNK = 64 * 1024


async def relay(reader, writer, up_reader, up_writer):
    """Copy bytes both ways until each side has closed; close both; return None."""
    no_delay(writer)
    no_delay(up_writer)
    try:
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
    finally:
        up_writer.close()
        writer.close()


async def pump(source, sink):
    """Copy ``source`` into ``sink`` until end of stream, then half-close ``sink``."""
    try:
        while data := await source.read(RELAY_CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()


def no_delay(writer):
    """Turn Nagle's algorithm off on ``writer``'s TCP socket; return None.

    A relay copies each chunk as it comes: with Nagle on, the second small
    write of a request or response (headers, then body) waits for the peer's
    delayed ACK. asyncio sets TCP_NODELAY itself only on sockets whose
    ``proto`` is IPPROTO_TCP, which a socket accepted from a listener made as
    ``socket.socket(AF_INET, SOCK_STREAM)`` is not.
    """
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
