"""Running the service: the socket, uvicorn, and what keeps one client from holding it.

- A port in use is one line and exit 2 (the socket is bound here, before uvicorn starts).
- A request's line and headers must arrive within HEADER_TIMEOUT seconds of the
  connection opening (or of the last answer on a kept-alive connection), and its body
  within BODY_TIMEOUT (``service``): a client dripping a byte a second is cut off.
- At most MAX_CONNECTIONS connections at once; beyond that, 503.
- One access-log line per request on standard error: method, path (never its query, which
  may name a patient), status, milliseconds.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
import time
from typing import Any

#: Seconds a client has to send a request's line and headers (KAPCHECK_HEADER_TIMEOUT).
HEADER_TIMEOUT = float(os.environ.get("KAPCHECK_HEADER_TIMEOUT") or 10.0)
#: Connections served at once (uvicorn answers 503 beyond).
MAX_CONNECTIONS = 64


class PortInUse(OSError):
    """The address cannot be bound."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; PortInUse (one line to say) if it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = ("is in use" if exc.errno == errno.EADDRINUSE
               else f"cannot be bound ({exc.strerror or exc})")
        raise PortInUse(f"{host}:{port} {why}") from None
    # Accepted connections inherit it: without it, a small answer written in two parts
    # waits on the client's delayed ACK (40 ms a request, measured).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(2048)
    return sock


def _protocol_class() -> Any:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Guarded(H11Protocol):
        """uvicorn's h11 protocol with a deadline for each request's headers: uvicorn
        itself waits for them without end."""

        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers are in: the body has its own deadline

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

    return Guarded


class AccessLog:
    """ASGI middleware: one line per HTTP request on standard error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            ms = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"kapcheck: {scope['method']} {scope['path']} {status[0]} "
                             f"{ms:.1f} ms\n")
            sys.stderr.flush()


def run(application: Any, sock: socket.socket) -> None:
    """Serve on the bound socket until stopped."""
    import uvicorn

    config = uvicorn.Config(AccessLog(application), log_level="error", access_log=False,
                            http=_protocol_class(), limit_concurrency=MAX_CONNECTIONS,
                            timeout_keep_alive=5, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
