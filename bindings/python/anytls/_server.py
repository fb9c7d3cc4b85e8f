"""The embedded AnyTLS server (for tests and demos)."""

from __future__ import annotations

import ctypes
from typing import Any, Optional

from . import _lib


class Server:
    """An AnyTLS server on a thread of its own, from the TOML of ``anytls server``
    (docs/SERVER.md: every key, ``self-signed = true`` included; ``listen`` defaults to
    ``127.0.0.1:0`` and ``log-level`` is left to :func:`anytls.set_log_level`).

    Starts at construction; use as a context manager or call :meth:`stop`.
    """

    def __init__(self, config: str) -> None:
        out = ctypes.c_void_p()
        self._handle: Optional[int] = None
        _lib.check(_lib.lib().anytls_server_start(_lib.encode(config, "config"), ctypes.byref(out)))
        self._handle = out.value
        port = ctypes.c_uint16(0)
        _lib.check(_lib.lib().anytls_server_port(self._handle, ctypes.byref(port)))
        self._port = int(port.value)

    @property
    def port(self) -> int:
        """The bound port (useful after ``listen = "127.0.0.1:0"``)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._handle is not None

    def stop(self) -> None:
        """Stops accepting, closes every session and stops the server's thread. Idempotent."""
        handle, self._handle = self._handle, None
        if handle is not None:
            _lib.check(_lib.lib().anytls_server_stop(handle))

    close = stop

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<anytls.Server port={self._port} {'running' if self.running else 'stopped'}>"
