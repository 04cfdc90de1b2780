"""The egress proxy on its own (no namespace needed): what it answers a client that
asks for something it does not serve, and that it relays what it admits."""

import asyncio
import json

import pytest

from apps.egress.proxy import EgressProxy

pytestmark = pytest.mark.django_db(transaction=True)


def ask(app_id, request):
    """Send ``request`` to a fresh proxy for ``app_id``; return all it answers."""

    async def exchange():
        server = await asyncio.start_server(EgressProxy(app_id).serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        server.close()
        await server.wait_closed()
        return answer.decode("latin-1")

    return asyncio.run(exchange())


@pytest.mark.parametrize(
    "request_bytes, status, words",
    [
        (b"NONSENSE\r\n\r\n", "400", "malformed request line"),
        (b"CONNECT example.com HTTP/1.1\r\n\r\n", "400", "CONNECT needs host:port"),
        (b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n", "400", "absolute http:// URL"),
        (b"GET ftp://example.com/ HTTP/1.1\r\n\r\n", "403", "only http and https"),
        (b"GET http://10.1.2.3/ HTTP/1.1\r\n\r\n", "403", "rule private"),
    ],
)
def test_it_refuses_what_it_does_not_serve_by_name(
    app_id, request_bytes, status, words
):
    answer = ask(app_id, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ")
    assert words in answer


def test_a_plain_http_request_is_relayed_in_origin_form(app_id, upstream, settings):
    settings.IMPERAL_EGRESS_ALLOW = json.dumps({app_id: [f"127.0.0.1:{upstream.port}"]})
    target = f"127.0.0.1:{upstream.port}"
    request = (
        f"POST http://{target}/echo HTTP/1.1\r\nHost: {target}\r\n"
        "Proxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"
    ).encode()
    answer = ask(app_id, request)
    assert answer.startswith("HTTP/1.1 200")
    body = json.loads(answer.split("\r\n\r\n", 1)[1])
    assert body == {"method": "POST", "received": 5, "host": target}
    assert upstream.requests[0]["path"] == "/echo"
