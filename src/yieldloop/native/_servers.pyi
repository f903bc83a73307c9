"""Servers: listening sockets whose connections become Streams."""

import os
import socket
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, final

from ._streams import Stream
from ._tls import TLSStream

@final
class Server:
    """Listening sockets with a task accepting on each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    @property
    def sockets(self) -> list[socket.socket]: ...
    def is_serving(self) -> bool: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...
    async def serve_forever(self) -> None: ...
    async def __aenter__(self) -> Server: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

_Handler = Callable[[Stream], Awaitable[object] | Iterable[object]]
_TLSHandler = Callable[[TLSStream], Awaitable[object] | Iterable[object]]

async def start_server(
    handler: _Handler | _TLSHandler,
    host: str | None = "127.0.0.1",
    port: int | str = 0,
    *,
    backlog: int = ...,
    limit: int = ...,
    reuse_address: bool = True,
    family: int = 0,
    ssl: _ssl.SSLContext | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> Server: ...
async def start_unix_server(
    handler: _Handler | _TLSHandler,
    path: str | os.PathLike[str],
    *,
    backlog: int = ...,
    limit: int = ...,
    ssl: _ssl.SSLContext | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> Server: ...
