"""Just enough HTTP/1.1 for Janus: a JSON POST client and a POST receiver.

The framing (request and status lines, headers, Content-Length and chunked bodies,
keep-alive) is h11's, a small sans-IO library; the sockets are asyncio streams, so
nothing here blocks the relay's loop. Bodies are bounded (:data:`MAX_BODY`), every
request has a deadline, and a peer that sends garbage gets a 400 and is closed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hmac
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11

MAX_BODY = 8 * 1024 * 1024
"""Largest body read (a handle_info with long SDPs is a few kB; a batch of 100 events
some 100 kB)."""


class HttpError(Exception):
    """A request that failed: ``kind`` is ``connect``, ``timeout``, ``http``, ``protocol``
    or ``json``; the message is one line."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


async def post_json(url: str, body: dict[str, Any], timeout: float = 5.0) -> Any:
    """POST ``body`` as JSON to ``url`` (``http://`` only); the decoded JSON reply.
    Raises :class:`HttpError`."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise HttpError("protocol", f"{url}: only http:// URLs are supported")
    try:
        return await asyncio.wait_for(_post(parts.hostname, parts.port or 80,
                                            parts.path or "/", parts.netloc, body), timeout)
    except TimeoutError:
        raise HttpError("timeout", f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise HttpError("connect", exc.strerror or str(exc)) from None


async def _post(host: str, port: int, path: str, netloc: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    conn = h11.Connection(h11.CLIENT)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        out = conn.send(h11.Request(method="POST", target=path, headers=[
            ("Host", netloc), ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))), ("Connection", "close")]))
        writer.write((out or b"") + (conn.send(h11.Data(data=data)) or b"")
                     + (conn.send(h11.EndOfMessage()) or b""))
        await writer.drain()
        status = 0
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise HttpError("protocol", f"not an HTTP reply ({exc})") from None
            if ev is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(ev, h11.Response):
                status = ev.status_code
            elif isinstance(ev, h11.Data):
                size += len(ev.data)
                if size > MAX_BODY:
                    raise HttpError("protocol", f"reply larger than {MAX_BODY} bytes")
                chunks.append(bytes(ev.data))
            elif isinstance(ev, h11.EndOfMessage | h11.ConnectionClosed):
                break
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    payload = b"".join(chunks)
    if status != 200:
        raise HttpError("http", f"HTTP {status}: {payload[:120]!r}", status)
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise HttpError("json", f"reply is not JSON ({exc})") from None


@dataclass(frozen=True)
class Posted:
    """One request the receiver accepted."""

    path: str
    body: bytes
    """Decompressed (``Content-Encoding: gzip``/``deflate``)."""
    peer: tuple[str, int]


Handler = Callable[[Posted], Awaitable[None] | None]


def basic_ok(header: bytes | None, user: str, password: str) -> bool:
    """Whether an ``Authorization`` header carries these Basic credentials (compared in
    constant time)."""
    want = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
    return header is not None and hmac.compare_digest(header.strip(), want)


async def serve_posts(host: str, port: int, handler: Handler, *,
                      credentials: tuple[str, str] | None = None,
                      on_refused: Callable[[str, tuple[str, int]], None] | None = None,
                      timeout: float = 10.0) -> asyncio.Server:
    """Listen on ``host:port`` for POSTs; each accepted one goes to ``handler``.
    ``credentials``: (user, password) every request must carry as Basic authentication
    (others get 401 and ``on_refused(reason, peer)``). Returns the server (close it)."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            await asyncio.wait_for(_serve(reader, writer, (peer[0], peer[1]), handler,
                                          credentials, on_refused), timeout)
        except (TimeoutError, OSError, h11.ProtocolError, asyncio.CancelledError):
            pass  # cancelled: the server closes with the relay
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_server(client, host, port)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 peer: tuple[str, int], handler: Handler,
                 credentials: tuple[str, str] | None,
                 on_refused: Callable[[str, tuple[str, int]], None] | None) -> None:
    conn = h11.Connection(h11.SERVER)
    while True:
        req: h11.Request | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError:
                writer.write(_reply(conn, 400, b"bad request"))
                return
            if ev is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return
                continue
            if isinstance(ev, h11.ConnectionClosed):
                return
            if isinstance(ev, h11.Request):
                req = ev
            elif isinstance(ev, h11.Data):
                size += len(ev.data)
                if size > MAX_BODY:
                    writer.write(_reply(conn, 413, b"too large"))
                    return
                chunks.append(bytes(ev.data))
            elif isinstance(ev, h11.EndOfMessage):
                break
        assert req is not None
        headers = {k.lower(): v for k, v in req.headers}
        status, text = 200, b"ok"
        if credentials is not None and not basic_ok(headers.get(b"authorization"),
                                                    *credentials):
            status, text = 401, b"wrong or missing credentials"
            if on_refused is not None:
                on_refused("no credentials" if b"authorization" not in headers
                           else "wrong credentials", peer)
        elif req.method != b"POST":
            status, text = 405, b"POST only"
        else:
            body = b"".join(chunks)
            enc = headers.get(b"content-encoding", b"").lower()
            try:
                if enc == b"gzip":
                    body = gzip.decompress(body)
                elif enc == b"deflate":
                    body = zlib.decompress(body)
            except (OSError, zlib.error, EOFError):
                status, text = 400, b"bad compressed body"
            else:
                res = handler(Posted(req.target.decode("latin-1"), body, peer))
                if res is not None:
                    await res
        extra = [("WWW-Authenticate", 'Basic realm="dtlsproxy"')] if status == 401 else []
        writer.write(_reply(conn, status, text, extra))
        await writer.drain()
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            return


def _reply(conn: h11.Connection, status: int, text: bytes,
           extra: list[tuple[str, str]] | None = None) -> bytes:
    try:
        out = conn.send(h11.Response(status_code=status, headers=[
            ("Content-Type", "text/plain"), ("Content-Length", str(len(text))),
            *(extra or [])]))
        return (out or b"") + (conn.send(h11.Data(data=text)) or b"") + (
            conn.send(h11.EndOfMessage()) or b"")
    except h11.LocalProtocolError:
        return b""
