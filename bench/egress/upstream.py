"""A minimal keep-alive HTTP/1.1 server on loopback answering every request with a
small JSON body; run as its own process so it takes no time from the client's.

    python bench/egress/upstream.py PORT_FILE
"""

import asyncio
import sys

BODY = b'{"hello": "world", "items": [1, 2, 3]}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs only: no request bodies
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(RESPONSE)


async def main(port_file):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", 0)
    with open(port_file, "w") as handle:
        handle.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
