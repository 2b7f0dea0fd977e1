"""A bounds-checked cursor over bytes (aioquic's ``Buffer`` habit, written for DTLS).

Every parser in :mod:`proxy.decode.dtls` reads through :class:`Reader`; the only exception
that leaves a parser is :class:`DecodeError`, which carries the absolute offset
where decoding failed and a human reason.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


class DecodeError(Exception):
    """The one error type the decoder raises: where (offset) and why (reason)."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class Reader:
    """Read big-endian integers and length-prefixed blocks from ``data``.

    ``base`` is added to every reported offset so errors and field spans point
    into the enclosing datagram or message, not into a slice of it.
    """

    __slots__ = ("_data", "_end", "base", "pos")

    def __init__(self, data: bytes, base: int = 0) -> None:
        self._data = data
        self._end = len(data)
        self.pos = 0
        self.base = base

    @property
    def offset(self) -> int:
        """Absolute offset of the cursor (``base + pos``)."""
        return self.base + self.pos

    def remaining(self) -> int:
        """Bytes left before the current end (the end of the innermost block)."""
        return self._end - self.pos

    def eof(self) -> bool:
        """True when nothing is left before the current end."""
        return self.pos >= self._end

    def fail(self, reason: str) -> DecodeError:
        """A :class:`DecodeError` at the cursor (raise it)."""
        return DecodeError(self.offset, reason)

    def _need(self, n: int, what: str) -> None:
        if n > self._end - self.pos:
            raise self.fail(f"{what}: needs {n} bytes, {self._end - self.pos} left")

    def pull_bytes(self, n: int, what: str = "bytes") -> bytes:
        """Read exactly ``n`` bytes."""
        self._need(n, what)
        v = self._data[self.pos : self.pos + n]
        self.pos += n
        return v

    def pull_rest(self) -> bytes:
        """Read everything up to the current end."""
        v = self._data[self.pos : self._end]
        self.pos = self._end
        return v

    def pull_uint(self, size: int, what: str = "integer") -> int:
        """Read a big-endian unsigned integer of ``size`` bytes."""
        self._need(size, what)
        v = int.from_bytes(self._data[self.pos : self.pos + size], "big")
        self.pos += size
        return v

    def pull_uint8(self, what: str = "uint8") -> int:
        """Read one byte."""
        return self.pull_uint(1, what)

    def pull_uint16(self, what: str = "uint16") -> int:
        """Read a 16-bit integer."""
        return self.pull_uint(2, what)

    def pull_uint24(self, what: str = "uint24") -> int:
        """Read a 24-bit integer."""
        return self.pull_uint(3, what)

    def pull_uint48(self, what: str = "uint48") -> int:
        """Read a 48-bit integer."""
        return self.pull_uint(6, what)

    def pull_vector(self, len_size: int, what: str = "vector") -> bytes:
        """Read a ``len_size``-byte length prefix, then that many bytes."""
        n = self.pull_uint(len_size, f"{what} length")
        return self.pull_bytes(n, what)

    def pull_block(self, len_size: int, what: str = "block") -> _Block:
        """Narrow the reader to a length-prefixed block; it must be consumed exactly.

        ``with r.pull_block(2, "name") as n:`` gives the block length. On exit, leftover
        bytes inside the block are a :class:`DecodeError` (aioquic's ``pull_block`` rule).
        """
        n = self.pull_uint(len_size, f"{what} length")
        self._need(n, what)
        block = _Block(self, n, what, self._end)
        self._end = self.pos + n
        return block

    def pull_list(self, len_size: int, item: Callable[[Reader], T], what: str = "list") -> list[T]:
        """Read a length-prefixed list whose items ``item`` pulls one at a time."""
        out: list[T] = []
        with self.pull_block(len_size, what):
            while not self.eof():
                out.append(item(self))
        return out


class _Block:
    """The context of :meth:`Reader.pull_block` (a class: no generator per block)."""

    __slots__ = ("length", "outer_end", "reader", "what")

    def __init__(self, reader: Reader, length: int, what: str, outer_end: int) -> None:
        self.reader = reader
        self.length = length
        self.what = what
        self.outer_end = outer_end

    def __enter__(self) -> int:
        return self.length

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        r = self.reader
        try:
            if exc_type is None and r.pos != r._end:
                raise r.fail(f"{self.what}: {r._end - r.pos} bytes left unparsed")
        finally:
            r._end = self.outer_end
