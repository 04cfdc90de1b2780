"""A fake bookmarks service on loopback, for the connector's tests and a local try-out.

It speaks the part of a linkding-style REST API the connector uses: ``GET`` and
``POST /api/bookmarks/`` with ``Authorization: Token <token>``. Each token has its
own bookmarks; an unknown token is a 401. Every request is kept in ``requests``
(method, path, token) so tests can see what reached the service.

    with FakeBookmarksService(tokens={"tok-alice"}) as service:
        service.url  # http://127.0.0.1:<port>
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH = "/api/bookmarks/"


class FakeBookmarksService:
    """Serve on a free 127.0.0.1 port while used as a context manager."""

    def __init__(self, tokens):
        self.tokens = set(tokens)
        self.bookmarks = {}  # token -> [bookmark]
        self.requests = []  # (method, path, token)
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method, target, token, body):
        """Return (status, JSON value) for one request."""
        path = urlsplit(target).path
        self.requests.append((method, path, token))
        if token not in self.tokens:
            return 401, {"detail": "Invalid token."}
        if path != PATH:
            return 404, {"detail": "Not found."}
        mine = self.bookmarks.setdefault(token, [])
        if method == "POST":
            saved = {"id": len(mine) + 1, "url": body["url"], "title": body["title"]}
            mine.append(saved)
            return 201, saved
        limit = int(parse_qs(urlsplit(target).query).get("limit", ["20"])[0])
        return 200, {"count": len(mine), "results": list(reversed(mine))[:limit]}

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._reply(None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._reply(json.loads(self.rfile.read(length) or b"{}"))

            def _reply(self, body):
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Token ") if auth.startswith("Token ") else ""
                status, value = service.answer(self.command, self.path, token, body)
                payload = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler
