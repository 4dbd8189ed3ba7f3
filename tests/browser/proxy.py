"""A TCP proxy in front of the binder that cuts the first /build stream, as a flaky network
would, right after the event that hands the page its resume secret."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the binder; the first /build response is cut `delay`
    seconds after its bytes include `cut_after`. Everything else passes untouched.

    The delay lets the browser take in the event before the connection dies: bytes that
    arrive together with the end of a broken response may be dropped by it.
    """

    def __init__(
        self, target_port: int, cut_after: bytes = b'"resume"', delay: float = 0.5
    ) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.build_requests = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> DroppingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            is_build = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, upstream, is_build), daemon=True
            ).start()
            threading.Thread(
                target=self._responses, args=(upstream, client, is_build), daemon=True
            ).start()

    def _requests(
        self, client: socket.socket, upstream: socket.socket, is_build: threading.Event
    ) -> None:
        with suppress(OSError):
            while data := client.recv(65536):
                if b"GET /build/" in data:
                    with self._lock:
                        self.build_requests += 1
                    is_build.set()
                upstream.sendall(data)
        _close(client, upstream)

    def _responses(
        self, upstream: socket.socket, client: socket.socket, is_build: threading.Event
    ) -> None:
        seen = b""
        with suppress(OSError):
            while data := upstream.recv(65536):
                client.sendall(data)
                if is_build.is_set() and not self.cut.is_set():
                    seen = (seen + data)[-65536:]
                    if self.cut_after in seen:
                        self.cut.set()
                        cut = threading.Timer(self.delay, _close, (client, upstream))
                        cut.daemon = True
                        cut.start()
        _close(client, upstream)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            sock.close()
