"""anytls: Python binding (ctypes, standard library only) of libanytls.

An AnyTLS proxy client with a managed pool of warm sessions, and an embeddable AnyTLS server::

    import anytls
    with anytls.Client(config=open("client.toml").read()) as client:
        with client.open("my-proxy", "example.com", 80, timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n")
            print(s.recv(4096))

The shared library is found through ANYTLS_LIBRARY, a copy inside this package, or the system
loader (libanytls.so.1), and loaded on first use. Library log lines go to the ``logging``
logger ``anytls``.
"""

from __future__ import annotations

from ._client import Client, PendingOpen, PoolConfig, PoolStats, Stream
from ._errors import (
    AnyTLSError,
    AuthenticationError,
    CancelledError,
    ClosedError,
    ConfigError,
    ConnectError,
    InternalError,
    InvalidArgumentError,
    LibraryLoadError,
    ProtocolError,
    TargetRefusedError,
    TimeoutError,
    UnknownProxyError,
)
from ._errors import IOError as IOError  # noqa: A004
from ._lib import ABI_VERSION, TRACE, set_log_level
from ._server import Server

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION", "TRACE", "AnyTLSError", "AuthenticationError", "CancelledError", "Client", "ClosedError",
    "ConfigError", "ConnectError", "IOError", "InternalError", "InvalidArgumentError", "LibraryLoadError", "PendingOpen", "PoolConfig",
    "PoolStats", "ProtocolError", "Server", "Stream", "TargetRefusedError", "TimeoutError",
    "UnknownProxyError", "abi_version", "load_library", "set_log_level", "strerror",
    "library_version",
]


def load_library() -> None:
    """Loads and checks libanytls now (otherwise done on first use); raises LibraryLoadError."""
    from . import _lib

    _lib.lib()


def library_version() -> str:
    """The release of the loaded libanytls ("0.1.0")."""
    from . import _lib

    v = _lib.lib().anytls_version()
    return v.decode() if v else ""


def abi_version() -> int:
    """The ABI version of the loaded libanytls (1)."""
    from . import _lib

    return int(_lib.lib().anytls_abi_version())


def strerror(code: int) -> str:
    """The library's English description of an error code."""
    from . import _lib

    return _lib.strerror(code)
