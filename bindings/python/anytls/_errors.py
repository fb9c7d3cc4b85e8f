"""Exceptions raised by the anytls binding; one per pinned error code of the C API."""

from __future__ import annotations

import builtins
from typing import Dict, Type

# The pinned, append-only codes of <anytls/anytls.h>.
OK = 0
E_INVALID_ARGUMENT = -1
E_CONFIG = -2
E_UNKNOWN_PROXY = -3
E_CLOSED = -4
E_TIMEOUT = -5
E_CONNECT = -6
E_TLS = -7
E_TLS_VERIFY = -8
E_AUTH = -9
E_TARGET_REFUSED = -10
E_PROTOCOL = -11
E_IO = -12
E_NO_MEMORY = -13
E_INTERNAL = -14
E_IN_PROGRESS = -15
E_CANCELLED = -16


class LibraryLoadError(ImportError):
    """libanytls could not be found or loaded, or its ABI version is not the one supported."""


class AnyTLSError(Exception):
    """A failing libanytls call.

    ``code`` is the negative error code of the C API; ``message`` is the library's message for
    the failing call (``anytls_last_error()``), which names the cause.
    """

    code: int
    message: str

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message if self.message else f"anytls error {self.code}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class InvalidArgumentError(AnyTLSError, ValueError):
    """ANYTLS_E_INVALID_ARGUMENT: a bad argument (empty name, bad timeout, ...)."""


class ConfigError(AnyTLSError, ValueError):
    """ANYTLS_E_CONFIG: the configuration was rejected; the message names the key."""


class UnknownProxyError(AnyTLSError, LookupError):
    """ANYTLS_E_UNKNOWN_PROXY: no [[proxies]] entry with that name."""


class ClosedError(AnyTLSError):
    """ANYTLS_E_CLOSED: the stream, session or client is closed (or was reset)."""


class TimeoutError(AnyTLSError, builtins.TimeoutError):  # noqa: A001 - deliberate shadowing
    """ANYTLS_E_TIMEOUT: the wait ran out. A stream stays usable after a read/write timeout."""


class ConnectError(AnyTLSError, ConnectionError):
    """The proxy server could not be used: connect (-6), TLS (-7), TLS verify (-8), auth (-9)."""


class AuthenticationError(ConnectError):
    """ANYTLS_E_AUTH: the server closed the session right after authentication: a wrong password.

    The protocol has no explicit answer; the message says that it is an inference."""


class TargetRefusedError(AnyTLSError, ConnectionRefusedError):
    """ANYTLS_E_TARGET_REFUSED: the server could not reach the target (its SYNACK text)."""


class ProtocolError(AnyTLSError):
    """ANYTLS_E_PROTOCOL: AnyTLS protocol violation by the peer."""


class IOError(AnyTLSError, OSError):  # noqa: A001 - deliberate shadowing
    """ANYTLS_E_IO: another system error (file, socket); see the message."""


class CancelledError(AnyTLSError):
    """ANYTLS_E_CANCELLED: the pending open was cancelled (:meth:`PendingOpen.cancel`)."""


class InternalError(AnyTLSError):
    """ANYTLS_E_INTERNAL (a library bug) or an unknown code."""


_BY_CODE: Dict[int, Type[AnyTLSError]] = {
    E_INVALID_ARGUMENT: InvalidArgumentError,
    E_CONFIG: ConfigError,
    E_UNKNOWN_PROXY: UnknownProxyError,
    E_CLOSED: ClosedError,
    E_TIMEOUT: TimeoutError,
    E_CONNECT: ConnectError,
    E_TLS: ConnectError,
    E_TLS_VERIFY: ConnectError,
    E_AUTH: AuthenticationError,
    E_TARGET_REFUSED: TargetRefusedError,
    E_PROTOCOL: ProtocolError,
    E_IO: IOError,
    E_NO_MEMORY: AnyTLSError,
    E_INTERNAL: InternalError,
    E_IN_PROGRESS: AnyTLSError,
    E_CANCELLED: CancelledError,
}


def error_class(code: int) -> Type[AnyTLSError]:
    """The exception class raised for an error code."""
    return _BY_CODE.get(code, InternalError)


def make_error(code: int, message: str) -> AnyTLSError:
    return error_class(code)(code, message)
