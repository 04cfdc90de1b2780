"""apps.common.relay: bytes copied both ways, with Nagle's algorithm off on each side."""

import asyncio
import socket

from apps.common.relay import relay
from apps.runtime.netns import _listener


def _nodelay(writer):
    sock = writer.get_extra_info("socket")
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_it_turns_nagle_off_on_a_socket_accepted_with_proto_0():
    async def scenario():
        seen = {}

        async def echo(reader, writer):
            writer.write(await reader.read(100))
            await writer.drain()
            writer.close()

        upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        up_port = upstream.sockets[0].getsockname()[1]

        async def forward(reader, writer):
            seen["before"] = _nodelay(writer)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", up_port)
            task = asyncio.ensure_future(relay(reader, writer, up_reader, up_writer))
            await asyncio.sleep(0)
            seen["after"] = _nodelay(writer)
            await task

        plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        plain.setblocking(False)
        server = await asyncio.start_server(forward, sock=plain)
        reader, writer = await asyncio.open_connection(*plain.getsockname())
        writer.write(b"ping")
        await writer.drain()
        echoed = await reader.read(100)
        writer.close()
        server.close()
        upstream.close()
        return seen, echoed

    seen, echoed = asyncio.run(scenario())
    assert echoed == b"ping"
    assert seen["before"] == 0  # what asyncio leaves a proto-0 socket with
    assert seen["after"] != 0


def test_the_forwarders_listener_hands_asyncio_tcp_sockets():
    listener = _listener(0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()
