"""Loading libanytls.so through ctypes, the function prototypes, error and log plumbing.

The library is looked up, in order, at the path in the environment variable ANYTLS_LIBRARY,
as a copy inside this package (libanytls.so.1 or libanytls.so next to this file), and through
the system loader (libanytls.so.1). It is loaded with ctypes.CDLL, which releases the GIL
during every call, so blocking calls (stream open, read, write, client close) let other Python
threads run.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import threading
from typing import Any, List, Optional

from ._errors import E_INVALID_ARGUMENT, LibraryLoadError, make_error

ABI_VERSION = 1
NO_TIMEOUT = -1

logger = logging.getLogger("anytls")


class anytls_pool_config(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("ensure_idle_session", ctypes.c_int64),
        ("ensure_idle_session_create_rate", ctypes.c_int64),
        ("min_idle_session", ctypes.c_int64),
        ("min_idle_session_for_age", ctypes.c_int64),
        ("max_connection_lifetime_ms", ctypes.c_int64),
        ("connection_lifetime_jitter_ms", ctypes.c_int64),
        ("idle_session_timeout_ms", ctypes.c_int64),
        ("idle_session_check_interval_ms", ctypes.c_int64),
        ("heartbeat_interval_ms", ctypes.c_int64),
        ("heartbeat_timeout_ms", ctypes.c_int64),
        ("tcp_keepalive_ms", ctypes.c_int64),
        ("session_reuse", ctypes.c_int),
        ("creation_backoff_max_ms", ctypes.c_int64),
    ]


class anytls_pool_stats(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t)] + [
        (name, ctypes.c_uint64)
        for name in (
            "idle", "busy", "creating", "created_total", "creation_failures", "closed_idle",
            "closed_age", "closed_heartbeat", "closed_error", "closed_reset", "closed_no_reuse",
            "streams_opened", "warm_opens", "cold_opens", "retried_opens",
        )
    ]


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

_P = ctypes.c_void_p
_I = ctypes.c_int
_S = ctypes.c_char_p

# anytls_stream_open_ex flags (anytls.h).
OPEN_WAIT_CONNECTED = 1
_PROTOTYPES = {
    "anytls_version": (_S, []),
    "anytls_abi_version": (_I, []),
    "anytls_strerror": (_S, [_I]),
    "anytls_last_error": (_S, []),
    "anytls_set_log": (_I, [LOG_FN, _P, _I]),
    "anytls_client_open": (_I, [_S, ctypes.POINTER(_P)]),
    "anytls_client_open_file": (_I, [_S, ctypes.POINTER(_P)]),
    "anytls_client_close": (_I, [_P]),
    "anytls_pool_config_get": (_I, [_P, _S, ctypes.POINTER(anytls_pool_config)]),
    "anytls_pool_config_set": (_I, [_P, _S, ctypes.POINTER(anytls_pool_config)]),
    "anytls_pool_get_stats": (_I, [_P, _S, ctypes.POINTER(anytls_pool_stats)]),
    "anytls_pool_reset": (_I, [_P, _S]),
    "anytls_stream_open": (_I, [_P, _S, _S, ctypes.c_uint16, _I, ctypes.POINTER(_P)]),
    "anytls_stream_read": (_I, [_P, _P, ctypes.c_size_t, _I, ctypes.POINTER(ctypes.c_size_t)]),
    "anytls_stream_write": (_I, [_P, _P, ctypes.c_size_t, _I]),
    "anytls_stream_close": (_I, [_P]),
    "anytls_stream_open_fd": (_I, [_P, _S, _S, ctypes.c_uint16, _I, ctypes.POINTER(_I)]),
    "anytls_stream_into_fd": (_I, [_P, ctypes.POINTER(_I)]),
    "anytls_stream_open_ex": (_I, [_P, _S, _S, ctypes.c_uint16, _I, ctypes.c_uint, ctypes.POINTER(_P)]),
    "anytls_stream_fd_error": (_I, [_I]),
    "anytls_stream_shutdown": (_I, [_P]),
    "anytls_open_start": (_I, [_P, _S, _S, ctypes.c_uint16, _I, ctypes.POINTER(_P)]),
    "anytls_open_notify_fd": (_I, [_P]),
    "anytls_open_result": (_I, [_P, ctypes.POINTER(_I)]),
    "anytls_open_cancel": (_I, [_P]),
    "anytls_open_free": (None, [_P]),
    "anytls_server_start": (_I, [_S, ctypes.POINTER(_P)]),
    "anytls_server_port": (_I, [_P, ctypes.POINTER(ctypes.c_uint16)]),
    "anytls_server_stop": (_I, [_P]),
}


def _candidates() -> List[str]:
    found: List[str] = []
    env = os.environ.get("ANYTLS_LIBRARY")
    if env:
        found.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libanytls.so.1", "libanytls.so"):
        path = os.path.join(here, name)
        if os.path.exists(path):
            found.append(path)
    found.append("libanytls.so.1")
    return found


def _load() -> ctypes.CDLL:
    errors: List[str] = []
    lib: Optional[ctypes.CDLL] = None
    for candidate in _candidates():
        try:
            lib = ctypes.CDLL(candidate)  # CDLL (not PyDLL): the GIL is released during calls
            break
        except OSError as exc:
            errors.append(f"{candidate}: {exc}")
            if candidate == os.environ.get("ANYTLS_LIBRARY"):
                # An explicit choice that does not load is an error, not a reason to fall back.
                raise LibraryLoadError(f"cannot load libanytls from ANYTLS_LIBRARY={candidate}: {exc}") from exc
    if lib is None:
        raise LibraryLoadError(
            "cannot find libanytls (set ANYTLS_LIBRARY to the path of libanytls.so.1, or install "
            "the library): " + "; ".join(errors))
    try:
        abi = lib.anytls_abi_version
    except AttributeError as exc:
        raise LibraryLoadError(f"{lib._name} is not libanytls (no anytls_abi_version)") from exc
    abi.restype = ctypes.c_int
    abi.argtypes = []
    got = abi()
    if got != ABI_VERSION:
        raise LibraryLoadError(
            f"{lib._name} has ABI version {got}, but this binding needs ABI version {ABI_VERSION} "
            f"(libanytls.so.{ABI_VERSION})")
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError as exc:
            raise LibraryLoadError(f"{lib._name} lacks {name}") from exc
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def lib() -> ctypes.CDLL:
    """The loaded library (loaded and checked on first use); raises LibraryLoadError."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                loaded = _load()
                _install_log(loaded)
                _lib = loaded
    return _lib


def last_error() -> str:
    msg = lib().anytls_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def check(rc: int) -> None:
    """Raises the exception of a failing call; call right after it, on the same thread."""
    if rc != 0:
        raise make_error(rc, last_error() or strerror(rc))


def strerror(code: int) -> str:
    msg = lib().anytls_strerror(code)
    return msg.decode("utf-8", "replace") if msg else ""


def invalid(message: str) -> Exception:
    return make_error(E_INVALID_ARGUMENT, message)


def encode(text: Any, what: str) -> bytes:
    if isinstance(text, bytes):
        encoded = text
    elif isinstance(text, str):
        encoded = text.encode("utf-8")
    else:
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    # The C API takes NUL-terminated strings: "a\0b" would silently become "a".
    if b"\0" in encoded:
        raise ValueError(f"{what} contains a NUL character")
    return encoded


def timeout_ms(timeout: Optional[float], what: str = "timeout", allow_none: bool = True) -> int:
    """Seconds (None = no limit) to the C API's milliseconds (> 0 or NO_TIMEOUT)."""
    if timeout is None:
        if allow_none:
            return NO_TIMEOUT
        raise invalid(f"{what}: a number of seconds is required")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None")
    if timeout <= 0:
        raise invalid(f"{what}: must be > 0 seconds, not {timeout}")
    ms = int(-(-float(timeout) * 1000 // 1))  # ceil: a tiny positive timeout is 1 ms, not 0
    return max(1, min(ms, 2**31 - 1))


# ---- logging ------------------------------------------------------------------------------

# anytls_log_level -> logging level (TRACE = 5, below DEBUG).
TRACE = 5
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG, 4: TRACE}


def _level_for(py_level: int) -> int:
    """The library level that forwards what a logger at py_level would emit."""
    if py_level <= TRACE:
        return 4
    if py_level <= logging.DEBUG:
        return 3
    if py_level <= logging.INFO:
        return 2
    if py_level <= logging.WARNING:
        return 1
    return 0


def _on_log(level: int, message: Optional[bytes], user: Optional[int]) -> None:
    try:
        text = message.decode("utf-8", "replace") if message else ""
        logger.log(_LEVELS.get(level, logging.ERROR), "%s", text)
    except Exception:  # never let an exception cross into C
        pass


_log_callback = LOG_FN(_on_log)  # kept alive for the life of the process


def _install_log(loaded: ctypes.CDLL) -> None:
    loaded.anytls_set_log(_log_callback, None, _level_for(logger.getEffectiveLevel()))
    atexit.register(_uninstall_log, loaded)


def _uninstall_log(loaded: ctypes.CDLL) -> None:
    # Before the interpreter goes away, hand logging back to stderr so that no library thread
    # still running calls into Python.
    try:
        loaded.anytls_set_log(LOG_FN(), None, 1)
    except Exception:
        pass


def set_log_level(level: Optional[int] = None) -> None:
    """Sets which library log lines reach the ``anytls`` logger.

    ``level`` is a ``logging`` level (``logging.DEBUG``, ...; ``anytls.TRACE`` = 5); by default
    the effective level of the ``anytls`` logger, read when the library is loaded. The level is
    process-wide and takes precedence over the ``log-level`` of client configurations.
    """
    if level is None:
        level = logger.getEffectiveLevel()
    check(lib().anytls_set_log(_log_callback, None, _level_for(level)))
