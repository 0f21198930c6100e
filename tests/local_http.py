"""A tiny HTTP server on 127.0.0.1 that plays an internal service, or a host that
redirects, and counts what reaches it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# (status, headers, body) for a request path.
Answer = tuple[int, dict[str, str], bytes]
SECRET_BODY = b"INTERNAL-SECRET-7d1f: admin password is hunter2"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    port: int
    hits: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def internal_answer(path: str) -> Answer:
    """What an internal service with something to hide answers."""
    return 200, {"Content-Type": "text/plain"}, SECRET_BODY


@contextmanager
def local_server(answer: Callable[[str], Answer] = internal_answer) -> Iterator[LocalServer]:
    holder: dict[str, LocalServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            holder["server"].hits.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            holder["server"].received.append(
                Received(self.command, self.path, dict(self.headers.items()), body)
            )
            status, headers, body = answer(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = LocalServer(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        server.shutdown()
        server.server_close()
