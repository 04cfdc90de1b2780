"""A real HTTP server on loopback for ctx.http to call: the far end of the network edge.

Paths: ``/json`` (a JSON object), ``/bytes?n=N`` (N bytes), ``/gzip?n=N`` (N
zero bytes, gzip-encoded on the wire), ``/redirect?to=URL`` (302 to URL),
``/slow?s=SECONDS``, ``/echo`` (the method, body size and Host header it got,
for any method), ``/inspect`` (the method, path, headers and body it got, as
text). Every request it gets is kept in ``requests``.
"""

import gzip
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Upstream:
    """A threaded HTTP server on ``host`` (any free port) until ``stop()``."""

    def __init__(self, host="127.0.0.1"):
        self.requests = []
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"upstream": self})
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = host
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def entered(self, request):
        with self._lock:
            self.requests.append(request)
            self.active += 1
            self.peak = max(self.peak, self.active)

    def left(self):
        with self._lock:
            self.active -= 1


class _Handler(BaseHTTPRequestHandler):
    upstream = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        self.upstream.entered(
            {"method": self.command, "path": self.path, "host": self.headers["Host"]}
        )
        try:
            route = getattr(self, "route_" + url.path.strip("/"), self.route_missing)
            route(query, body)
        finally:
            self.upstream.left()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def send(self, status, body, content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def route_json(self, query, body):
        self.send(200, json.dumps({"hello": "world", "items": [1, 2]}).encode())

    def route_bytes(self, query, body):
        self.send(200, b"x" * int(query["n"]), "application/octet-stream")

    def route_gzip(self, query, body):
        packed = gzip.compress(b"\0" * int(query["n"]))
        self.send(200, packed, "text/plain", [("Content-Encoding", "gzip")])

    def route_redirect(self, query, body):
        self.send(302, b"", "text/plain", [("Location", query["to"])])

    def route_slow(self, query, body):
        time.sleep(float(query["s"]))
        self.send(200, b'{"slow": true}')

    def route_echo(self, query, body):
        answer = {
            "method": self.command,
            "received": len(body),
            "host": self.headers["Host"],
        }
        self.send(200, json.dumps(answer).encode())

    def route_inspect(self, query, body):
        answer = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode("latin-1"),
        }
        self.send(200, json.dumps(answer).encode())

    def route_missing(self, query, body):
        self.send(404, b'{"error": "no such path"}')
