import os
import socket
import ssl as _ssl
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Literal, final, overload

from ._tls import TLSStream

DEFAULT_LIMIT: int
HIGH_WATER: int
LOW_WATER: int

@final
class Stream:
    """A connected socket with buffered reads and flow-controlled writes."""

    def __init__(
        self, sock: socket.socket, *, limit: int = ..., high_water: int = ..., low_water: int = -1
    ) -> None: ...
    async def read(self, n: int = -1) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...
    async def readline(self) -> bytes: ...
    def at_eof(self) -> bool: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    async def __anext__(self) -> bytes: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def writelines(self, lines: Iterable[bytes | bytearray | memoryview]) -> None: ...
    async def drain(self) -> None: ...
    async def send_all(self, data: bytes | bytearray | memoryview) -> None: ...
    async def send_eof(self) -> None: ...
    async def start_tls(
        self,
        ssl_context: _ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> TLSStream: ...
    async def aclose(self) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def socket(self) -> socket.socket: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    async def __aenter__(self) -> Stream: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

# With ssl= a TLSStream, without a Stream (the last overload is the runtime's
# own signature, with every default).
@overload
async def open_connection(
    host: str | None,
    port: int | str,
    *,
    limit: int = ...,
    family: int = 0,
    ssl: _ssl.SSLContext | Literal[True],
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> TLSStream: ...
@overload
async def open_connection(
    host: str | None,
    port: int | str,
    *,
    limit: int = ...,
    family: int = 0,
    ssl: None = None,
    server_hostname: None = None,
    ssl_handshake_timeout: None = None,
    ssl_shutdown_timeout: None = None,
) -> Stream: ...
@overload
async def open_unix_connection(
    path: str | os.PathLike[str],
    *,
    limit: int = ...,
    ssl: _ssl.SSLContext | Literal[True],
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> TLSStream: ...
@overload
async def open_unix_connection(
    path: str | os.PathLike[str],
    *,
    limit: int = ...,
    ssl: None = None,
    server_hostname: None = None,
    ssl_handshake_timeout: None = None,
    ssl_shutdown_timeout: None = None,
) -> Stream: ...
