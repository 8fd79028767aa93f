"""Byte-exact HTTP/1.1 over a plain TCP socket; every read and write under a timeout."""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

# Long enough for a loaded 2-core machine, short enough that a hang fails one test fast.
TIMEOUT_SECONDS = 5.0
UVICORN_400 = b"Invalid HTTP request received."


class ClosedByServer(Exception):
    """The server closed the connection before a whole response arrived."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def post_graphql(
    query: str, *, token: str | None = None, request_id: str | None = None, close: bool = False
) -> bytes:
    """A POST /graphql request as bytes, with an exact Content-Length."""
    body = json.dumps({"query": query}).encode()
    head = [
        "POST /graphql HTTP/1.1",
        "Host: provision.test",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if request_id:
        head.append(f"X-Request-Id: {request_id}")
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(target: str, *, request_id: str | None = None, close: bool = False) -> bytes:
    head = [f"GET {target} HTTP/1.1", "Host: provision.test"]
    if request_id:
        head.append(f"X-Request-Id: {request_id}")
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode()


class Connection:
    """One TCP connection to 127.0.0.1:``port``; reads responses from its own buffer."""

    def __init__(self, port: int, timeout: float = TIMEOUT_SECONDS) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.local_port: int = self.sock.getsockname()[1]
        self._buffer = bytearray()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def abort(self) -> None:
        """Close with a TCP reset instead of a FIN (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shut_write(self) -> None:
        """Half-close: the server reads the end of the stream, the client can still read."""
        self.sock.shutdown(socket.SHUT_WR)

    def exchange(self, data: bytes) -> Response:
        self.send(data)
        return self.read_response()

    def read_response(self) -> Response:
        """The next whole response (Content-Length or chunked); TimeoutError if it stalls."""
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version, status, _reason = status_line.split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = self._read_chunked()
        else:
            body = self._read_exactly(int(headers.get("content-length", "0")))
        return Response(int(status), headers, body)

    def responses_until_closed(self) -> list[Response]:
        """Every response until the server closes the connection after a whole one."""
        responses = []
        while self._buffer or self._receive():
            responses.append(self.read_response())
        return responses

    def read_to_end(self) -> bytes:
        """Whatever the server sends until it closes; TimeoutError if it keeps it open."""
        while self._receive():
            pass
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest

    def silent_for(self, seconds: float) -> bool:
        """Whether the server sends nothing and keeps the connection open for ``seconds``."""
        if self._buffer:
            return False
        self.sock.settimeout(seconds)
        try:
            self._receive()
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        return False

    def _receive(self) -> bool:
        chunk = self.sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            if not self._receive():
                raise ClosedByServer(bytes(self._buffer))
        found = bytes(self._buffer[:end])
        del self._buffer[: end + len(marker)]
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._receive():
                raise ClosedByServer(bytes(self._buffer))
        found = bytes(self._buffer[:size])
        del self._buffer[:size]
        return found

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
            body += self._read_exactly(size)
            self._read_exactly(2)
        self._read_until(b"\r\n")  # no trailers
        return body
