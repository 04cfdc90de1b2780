"""Copying bytes between two asyncio stream pairs: a proxy's tunnel, a forwarder's link."""

import asyncio

RELAY_CHUNK = 64 * 1024


async def relay(reader, writer, up_reader, up_writer):
    """Copy bytes both ways until each side has closed; close both; return None."""
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
