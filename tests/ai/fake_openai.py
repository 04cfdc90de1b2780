"""A fake OpenAI-compatible model server on loopback: the far end of ctx.ai's network edge.

``POST /v1/chat/completions`` answers ``"echo: <last user message>"`` with
usage counted in words (prompt_tokens: words of every message; completion
tokens: words of the answer). ``status`` and ``delay`` make it fail or be slow.
Every request's JSON body and Authorization header are kept in ``requests``.
Runnable as a program (``python -m tests.ai.fake_openai PORT``) for servers a
test starts in another process.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """A threaded fake on 127.0.0.1 (any free port) until ``stop()``."""

    def __init__(self, port=0):
        self.requests = []
        self.status = 200
        self.delay = 0.0
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def completion(body):
    """Return the chat completion answering ``body``: an echo, usage in words."""
    messages = body.get("messages", [])
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    text = f"echo: {last}"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    completion_tokens = len(text.split())
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    fake = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        size = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(size) or b"{}")
        self.fake.requests.append(
            {
                "path": self.path,
                "body": body,
                "authorization": self.headers.get("Authorization"),
            }
        )
        if self.fake.delay:
            time.sleep(self.fake.delay)
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "no such path"}})
        if self.fake.status != 200:
            return self._send(self.fake.status, {"error": {"message": "fake failure"}})
        self._send(200, completion(body))

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    fake = FakeOpenAI(int(sys.argv[1]))
    print(fake.port, flush=True)
    fake._thread.join()
