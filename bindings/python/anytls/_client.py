"""Client, Stream, pool configuration and statistics."""

from __future__ import annotations

import ctypes
import dataclasses
import datetime
import io
import os
import socket
import threading
import warnings
import weakref
from typing import Any, Dict, Optional, TypeVar, Union

from . import _lib
from ._errors import E_CLOSED, E_CONFIG, ClosedError, make_error
from ._stream_socket import stream_socket

Seconds = Union[int, float, datetime.timedelta]

# Reads wait in slices of at most this many milliseconds, so that close() from another thread
# is noticed (the C API forbids freeing a stream while a call on it is in progress).
_READ_SLICE_MS = 500
# The most one read can return: the stream buffer limit (1 MiB) plus one frame (65535 bytes).
_MAX_READ = 1024 * 1024 + 65535

DEFAULT_OPEN_TIMEOUT = 30.0


def _closed(what: str) -> ClosedError:
    err = make_error(E_CLOSED, f"{what} is closed")
    assert isinstance(err, ClosedError)
    return err


class _Gate:
    """Counts the calls in progress on one C handle, so that close never frees the handle
    under a call that has already been admitted (the C API forbids it)."""

    def __init__(self, what: str, handle: Optional[int] = None) -> None:
        self.what = what
        self.handle = handle
        self.cond = threading.Condition()
        self.active = 0
        self.closing = False

    @property
    def closed(self) -> bool:
        return self.handle is None or self.closing

    def enter(self) -> int:
        with self.cond:
            if self.closing or self.handle is None:
                raise _closed(self.what)
            self.active += 1
            return self.handle

    def leave(self) -> None:
        with self.cond:
            self.active -= 1
            if self.active == 0:
                self.cond.notify_all()

    def shut(self) -> Optional[int]:
        """Admits no new call, waits for the calls in progress, and hands the handle over to
        the caller (to free). None if the handle is already closed or being closed."""
        with self.cond:
            if self.handle is None or self.closing:
                return None
            self.closing = True
            while self.active:
                self.cond.wait()
            handle, self.handle = self.handle, None
            return handle


# ---- pool configuration and statistics ---------------------------------------------------------

# Python field -> (C field, is a duration in ms). Durations are float seconds in Python.
_CONFIG_FIELDS = {
    "ensure_idle_session": ("ensure_idle_session", False),
    "ensure_idle_session_create_rate": ("ensure_idle_session_create_rate", False),
    "min_idle_session": ("min_idle_session", False),
    "min_idle_session_for_age": ("min_idle_session_for_age", False),
    "max_connection_lifetime": ("max_connection_lifetime_ms", True),
    "connection_lifetime_jitter": ("connection_lifetime_jitter_ms", True),
    "idle_session_timeout": ("idle_session_timeout_ms", True),
    "idle_session_check_interval": ("idle_session_check_interval_ms", True),
    "heartbeat_interval": ("heartbeat_interval_ms", True),
    "heartbeat_timeout": ("heartbeat_timeout_ms", True),
    "tcp_keepalive": ("tcp_keepalive_ms", True),
    "session_reuse": ("session_reuse", False),
    "creation_backoff_max": ("creation_backoff_max_ms", True),
}


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    """The live pool configuration of one proxy (docs/CONFIG.md names each key with dashes).

    Counts are ints; durations are float seconds (0 = off where the key allows it).
    """

    ensure_idle_session: int
    ensure_idle_session_create_rate: int
    min_idle_session: int
    min_idle_session_for_age: int
    max_connection_lifetime: float
    connection_lifetime_jitter: float
    idle_session_timeout: float
    idle_session_check_interval: float
    heartbeat_interval: float
    heartbeat_timeout: float
    tcp_keepalive: float
    session_reuse: bool
    creation_backoff_max: float


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """Counters of one proxy's pool."""

    idle: int
    busy: int
    creating: int
    created_total: int
    creation_failures: int
    closed_idle: int
    closed_age: int
    closed_heartbeat: int
    closed_error: int
    closed_reset: int
    closed_no_reuse: int
    streams_opened: int
    warm_opens: int
    cold_opens: int
    retried_opens: int


def _config_from_c(c: _lib.anytls_pool_config) -> PoolConfig:
    values: Dict[str, Any] = {}
    for name, (cname, is_ms) in _CONFIG_FIELDS.items():
        raw = getattr(c, cname)
        if is_ms:
            values[name] = raw / 1000.0
        elif name == "session_reuse":
            values[name] = bool(raw)
        else:
            values[name] = int(raw)
    return PoolConfig(**values)


def _key(name: str) -> str:
    return name.replace("_", "-")


def _to_ms(name: str, value: Any) -> int:
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise make_error(E_CONFIG, f"{_key(name)}: expected seconds (a number or datetime.timedelta), "
                                   f"not {type(value).__name__}")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise make_error(E_CONFIG, f"{_key(name)}: not a finite duration")
    ms = seconds * 1000.0
    # Round up to whole milliseconds (as the library does), so a non-zero duration stays non-zero.
    whole = int(ms)
    if ms > whole + 1e-6:
        whole += 1
    return whole


def _apply(c: _lib.anytls_pool_config, changes: Dict[str, Any]) -> None:
    for name, value in changes.items():
        field = _CONFIG_FIELDS.get(name)
        if field is None:
            raise make_error(E_CONFIG, f"{_key(name)}: unknown pool configuration key")
        cname, is_ms = field
        if is_ms:
            setattr(c, cname, _to_ms(name, value))
        elif name == "session_reuse":
            if not isinstance(value, (bool, int)):
                raise make_error(E_CONFIG, f"session-reuse: expected a bool, not {type(value).__name__}")
            setattr(c, cname, int(value))
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise make_error(E_CONFIG, f"{_key(name)}: expected an int, not {type(value).__name__}")
            if not -(2**63) <= value < 2**63:
                raise make_error(E_CONFIG, f"{_key(name)}: {value} is out of range")
            setattr(c, cname, value)


# ---- streams -----------------------------------------------------------------------------------


class Stream:
    """One proxied TCP connection (a handle stream). Use as a context manager.

    Reads and writes block the calling thread (the GIL is released). One reader thread and one
    writer thread may use a stream at once. ``timeout`` (seconds, None = no limit) bounds each
    read and write; a :class:`anytls.TimeoutError` leaves the stream usable.
    """

    def __init__(self, client: "Client", handle: int, timeout: Optional[float]) -> None:
        self._client = client
        self._gate = _Gate("stream", handle)
        self._timeout = timeout

    # -- timeouts, as socket.socket --
    def settimeout(self, timeout: Optional[float]) -> None:
        _lib.timeout_ms(timeout)  # validates
        self._timeout = timeout

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    @property
    def closed(self) -> bool:
        return self._gate.closed

    def recv(self, n: int, timeout: Optional[float] = ..., ) -> bytes:  # type: ignore[assignment]
        """Reads up to n bytes; b"" at the end of the stream (the target closed)."""
        if n < 0:
            raise ValueError("negative buffer size")
        if n == 0:
            return b""
        # One read returns at most what the stream has buffered (its limit plus one frame), so
        # a larger buffer would only be allocated and left unused.
        n = min(n, _MAX_READ)
        buf = ctypes.create_string_buffer(n)
        got = self._read(ctypes.addressof(buf), n, self._timeout if timeout is ... else timeout)
        return buf.raw[:got]

    def recv_into(self, buffer: Any, nbytes: int = 0, timeout: Optional[float] = ...) -> int:  # type: ignore[assignment]
        """Reads into a writable buffer; returns the byte count (0 at the end of the stream)."""
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("recv_into() needs a writable buffer")
        size = len(view) if nbytes <= 0 else min(nbytes, len(view))
        if size == 0:
            return 0
        arr = (ctypes.c_char * size).from_buffer(view)
        return self._read(ctypes.addressof(arr), size, self._timeout if timeout is ... else timeout)

    def _read(self, address: int, size: int, timeout: Optional[float]) -> int:
        total_ms = _lib.timeout_ms(timeout)
        handle = self._gate.enter()
        try:
            fn = _lib.lib().anytls_stream_read
            n = ctypes.c_size_t(0)
            remaining = total_ms
            while True:
                if self._gate.closing:
                    raise _closed("stream")
                slice_ms = _READ_SLICE_MS if remaining == _lib.NO_TIMEOUT else min(remaining, _READ_SLICE_MS)
                rc = fn(handle, address, size, slice_ms, ctypes.byref(n))
                if rc == -5 and (remaining == _lib.NO_TIMEOUT or remaining > slice_ms):  # E_TIMEOUT: next slice
                    if remaining != _lib.NO_TIMEOUT:
                        remaining -= slice_ms
                    continue
                _lib.check(rc)
                return n.value
        finally:
            self._gate.leave()

    def sendall(self, data: Any, timeout: Optional[float] = ...) -> None:  # type: ignore[assignment]
        """Writes all of data (any bytes-like object)."""
        ms = _lib.timeout_ms(self._timeout if timeout is ... else timeout)
        keep: Any
        if isinstance(data, bytes):
            keep, size = data, len(data)
            address: Any = data
        else:
            view = memoryview(data).cast("B")
            size = len(view)
            if view.readonly:
                keep = bytes(view)
                address = keep
            else:
                keep = (ctypes.c_char * size).from_buffer(view) if size else None
                address = ctypes.addressof(keep) if size else None
        if size == 0:
            return
        handle = self._gate.enter()
        try:
            _lib.check(_lib.lib().anytls_stream_write(handle, address, size, ms))
        finally:
            self._gate.leave()
            del keep

    def send(self, data: Any, timeout: Optional[float] = ...) -> int:  # type: ignore[assignment]
        """Writes all of data, as sendall(), and returns its length (socket.send's contract)."""
        self.sendall(data, timeout)
        return memoryview(data).nbytes

    def close(self) -> None:
        """Ends the stream (FIN); the session goes back to its pool. Idempotent.

        A read in progress in another thread is ended with ClosedError first.
        """
        # Calls blocked in other threads (a write to a target that never reads) wake first
        # with ClosedError; then the gate lets the handle be freed.
        with self._gate.cond:
            pending = self._gate.handle if not self._gate.closing and self._gate.active else None
        if pending is not None:
            _lib.lib().anytls_stream_shutdown(pending)
        handle = self._gate.shut()
        if handle is None:
            return
        self._client._forget(self)
        _lib.lib().anytls_stream_close(handle)

    def as_socket(self, *, blocking: bool = True) -> socket.socket:
        """Hands this stream over to a real ``socket.socket`` (the C API's fd mode).

        The Stream is closed afterwards; closing the socket ends the AnyTLS stream. Bytes
        already buffered for this stream are delivered through the socket.
        """
        handle = self._gate.shut()
        if handle is None:
            raise _closed("stream")
        self._client._forget(self)
        fd = ctypes.c_int(-1)
        _lib.check(_lib.lib().anytls_stream_into_fd(handle, ctypes.byref(fd)))
        return stream_socket(fd.value, blocking)

    def makefile(self, mode: str = "rb", buffering: int = -1) -> Any:
        """A binary file object over the stream ("rb", "wb" or "rwb"), as socket.makefile."""
        if "b" not in mode or not set(mode) <= {"r", "w", "b"}:
            raise ValueError("makefile() supports the binary modes 'rb', 'wb', 'rwb' only")
        raw = _StreamIO(self, "r" in mode, "w" in mode)
        if buffering == 0:
            return raw
        size = io.DEFAULT_BUFFER_SIZE if buffering < 0 else buffering
        if "r" in mode and "w" in mode:
            return io.BufferedRWPair(raw, raw, size)
        if "r" in mode:
            return io.BufferedReader(raw, size)
        return io.BufferedWriter(raw, size)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._gate.closed:
                # As an unclosed socket or file does (shown under -X dev or -W default).
                warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<anytls.Stream {'closed' if self.closed else 'open'}>"


class _StreamIO(io.RawIOBase):
    def __init__(self, stream: Stream, readable: bool, writable: bool) -> None:
        super().__init__()
        self._stream = stream
        self._r = readable
        self._w = writable

    def readable(self) -> bool:
        return self._r

    def writable(self) -> bool:
        return self._w

    def readinto(self, b: Any) -> int:
        return self._stream.recv_into(b)

    def write(self, b: Any) -> int:
        size = memoryview(b).nbytes
        self._stream.sendall(b)
        return size


# ---- client ------------------------------------------------------------------------------------


_Self = TypeVar("_Self", bound="_ClosedOnExit")


class _ClosedOnExit:
    """A handle behind a _Gate that close() frees: closed at the end of a with block and, as a
    last resort, when collected."""

    _gate: _Gate

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            gate = getattr(self, "_gate", None)
            if gate is not None and not gate.closed:
                self.close()
        except Exception:
            pass


class PendingOpen(_ClosedOnExit):
    """An open that runs in the library while an event loop watches :meth:`fileno` (it turns
    readable once the open has ended); from :meth:`Client.start_open`.

    :meth:`socket` then gives the stream as a socket (or raises the open's error);
    :meth:`cancel` stops the open wherever it is; :meth:`close` frees it, cancelling it if it
    still runs. No thread waits on its behalf. Use as a context manager.
    """

    def __init__(self, handle: int) -> None:
        self._gate = _Gate("pending open", handle)
        self._fd = _lib.lib().anytls_open_notify_fd(handle)

    def fileno(self) -> int:
        """The notify fd: watch it for readability, never read or close it."""
        return self._fd

    def socket(self, *, blocking: bool = False) -> socket.socket:
        """The opened stream as a ``socket.socket`` (non-blocking unless ``blocking=True``),
        once :meth:`fileno` is readable; raises the open's error (``CancelledError`` after
        :meth:`cancel`, ``ClosedError`` when the client closed). The result is taken once."""
        handle = self._gate.enter()
        try:
            fd = ctypes.c_int(-1)
            _lib.check(_lib.lib().anytls_open_result(handle, ctypes.byref(fd)))
            return stream_socket(fd.value, blocking)
        finally:
            self._gate.leave()

    def cancel(self) -> None:
        """Stops the open; it ends soon with CancelledError unless it ended first."""
        handle = self._gate.enter()
        try:
            _lib.check(_lib.lib().anytls_open_cancel(handle))
        finally:
            self._gate.leave()

    def close(self) -> None:
        """Frees the pending open (cancelling it if it still runs). Idempotent."""
        handle = self._gate.shut()
        if handle is not None:
            _lib.lib().anytls_open_free(handle)



class Client(_ClosedOnExit):
    """An AnyTLS client: its proxies, their session pools and its reactor thread.

    ``Client(config=toml_text)`` or ``Client(path="client.toml")``; use as a context manager or
    call :meth:`close`. One client may be used from many threads at once.
    """

    def __init__(self, config: Optional[str] = None, *, path: Union[str, "os.PathLike[str]", None] = None) -> None:
        if (config is None) == (path is None):
            raise TypeError("Client() needs exactly one of config= (TOML text) or path=")
        lib = _lib.lib()
        out = ctypes.c_void_p()
        self._gate = _Gate("client")
        self._config_lock = threading.Lock()
        self._streams: "weakref.WeakValueDictionary[int, Stream]" = weakref.WeakValueDictionary()
        if config is not None:
            rc = lib.anytls_client_open(_lib.encode(config, "config"), ctypes.byref(out))
        else:
            rc = lib.anytls_client_open_file(os.fsencode(path), ctypes.byref(out))  # type: ignore[arg-type]
        _lib.check(rc)
        self._gate.handle = out.value

    def _forget(self, stream: Stream) -> None:
        with self._gate.cond:
            self._streams.pop(id(stream), None)

    @property
    def closed(self) -> bool:
        return self._gate.closed

    def open(self, proxy: str, host: str, port: int, timeout: float = DEFAULT_OPEN_TIMEOUT,
             *, io_timeout: Optional[float] = None, wait_connected: bool = False) -> Stream:
        """Opens a proxied TCP connection to host:port through ``proxy``.

        The stream is returned as soon as its SYN is queued, without waiting for the server's
        SYNACK: a target the server cannot reach raises ``TargetRefusedError`` (a
        ``ConnectionRefusedError``) from the next read or write. ``wait_connected=True``
        returns only after the SYNACK, raising the refusal here (one round trip more).
        ``timeout`` (seconds) bounds the open (a new session's handshake included);
        ``io_timeout`` becomes the stream's read/write timeout (None = no limit).
        """
        ms = _lib.timeout_ms(timeout, allow_none=False)
        _lib.timeout_ms(io_timeout)
        p, h = _lib.encode(proxy, "proxy"), _lib.encode(host, "host")
        handle = self._gate.enter()
        try:
            out = ctypes.c_void_p()
            flags = _lib.OPEN_WAIT_CONNECTED if wait_connected else 0
            _lib.check(_lib.lib().anytls_stream_open_ex(handle, p, h, _port(port), ms, flags, ctypes.byref(out)))
            stream = Stream(self, out.value, io_timeout)  # type: ignore[arg-type]
            with self._gate.cond:
                self._streams[id(stream)] = stream
            return stream
        finally:
            self._gate.leave()

    def open_fd(self, proxy: str, host: str, port: int, timeout: float = DEFAULT_OPEN_TIMEOUT) -> int:
        """Opens a stream handed out as a file descriptor (non-blocking, close-on-exec AF_UNIX
        stream socket) that the caller owns and closes with os.close()."""
        ms = _lib.timeout_ms(timeout, allow_none=False)
        p, h = _lib.encode(proxy, "proxy"), _lib.encode(host, "host")
        handle = self._gate.enter()
        try:
            fd = ctypes.c_int(-1)
            _lib.check(_lib.lib().anytls_stream_open_fd(handle, p, h, _port(port), ms, ctypes.byref(fd)))
            return fd.value
        finally:
            self._gate.leave()

    def open_socket(self, proxy: str, host: str, port: int, timeout: float = DEFAULT_OPEN_TIMEOUT,
                    *, blocking: bool = True) -> socket.socket:
        """Opens a stream as a real ``socket.socket`` (the fd mode of the C API).

        The socket is blocking unless ``blocking=False``; closing it ends the stream.
        AnyTLS has no half-close: ``shutdown(SHUT_WR)`` ends the whole stream. As with
        :meth:`open`, the open does not wait for the SYNACK: a refused target raises
        ``TargetRefusedError`` from the socket's ``recv`` where it would read its end.
        """
        fd = self.open_fd(proxy, host, port, timeout)
        return stream_socket(fd, blocking)

    def start_open(self, proxy: str, host: str, port: int, timeout: float = DEFAULT_OPEN_TIMEOUT) -> PendingOpen:
        """Starts opening a stream and returns at once: the open runs in the library, and the
        :class:`PendingOpen`'s ``fileno()`` turns readable when it has ended. For event loops
        (:mod:`anytls.asyncio` uses it); argument errors are raised here, the open's own from
        :meth:`PendingOpen.socket`."""
        ms = _lib.timeout_ms(timeout, allow_none=False)
        p, h = _lib.encode(proxy, "proxy"), _lib.encode(host, "host")
        handle = self._gate.enter()
        try:
            out = ctypes.c_void_p()
            _lib.check(_lib.lib().anytls_open_start(handle, p, h, _port(port), ms, ctypes.byref(out)))
            return PendingOpen(out.value)  # type: ignore[arg-type]
        finally:
            self._gate.leave()

    def pool_config(self, proxy: str) -> PoolConfig:
        """The live pool configuration of ``proxy``."""
        p = _lib.encode(proxy, "proxy")
        handle = self._gate.enter()
        try:
            c = _lib.anytls_pool_config(size=ctypes.sizeof(_lib.anytls_pool_config))
            _lib.check(_lib.lib().anytls_pool_config_get(handle, p, ctypes.byref(c)))
            return _config_from_c(c)
        finally:
            self._gate.leave()

    def set_pool_config(self, proxy: str, config: Optional[PoolConfig] = None, **changes: Any) -> PoolConfig:
        """Changes the live pool configuration of ``proxy`` and returns the new one.

        Pass a whole :class:`PoolConfig` and/or keyword changes named as its fields
        (``ensure_idle_session=3``, ``idle_session_check_interval=1.0``); durations are seconds
        (int/float) or ``datetime.timedelta``. The result is validated by the library like the
        configuration file: nothing is applied if a value is refused, and the
        :class:`ConfigError` names the key.
        """
        p = _lib.encode(proxy, "proxy")
        merged: Dict[str, Any] = dataclasses.asdict(config) if config is not None else {}
        merged.update(changes)
        with self._config_lock:  # the read-modify-write of concurrent callers does not interleave
            handle = self._gate.enter()
            try:
                lib = _lib.lib()
                c = _lib.anytls_pool_config(size=ctypes.sizeof(_lib.anytls_pool_config))
                _lib.check(lib.anytls_pool_config_get(handle, p, ctypes.byref(c)))
                _apply(c, merged)
                _lib.check(lib.anytls_pool_config_set(handle, p, ctypes.byref(c)))
                _lib.check(lib.anytls_pool_config_get(handle, p, ctypes.byref(c)))
                return _config_from_c(c)
            finally:
                self._gate.leave()

    def stats(self, proxy: str) -> PoolStats:
        """The counters of ``proxy``'s pool."""
        p = _lib.encode(proxy, "proxy")
        handle = self._gate.enter()
        try:
            s = _lib.anytls_pool_stats(size=ctypes.sizeof(_lib.anytls_pool_stats))
            _lib.check(_lib.lib().anytls_pool_get_stats(handle, p, ctypes.byref(s)))
            return PoolStats(**{f.name: int(getattr(s, f.name)) for f in dataclasses.fields(PoolStats)})
        finally:
            self._gate.leave()

    def reset(self, proxy: str) -> None:
        """Closes every idle session of ``proxy``; the pool rebuilds them at its next cycle."""
        p = _lib.encode(proxy, "proxy")
        handle = self._gate.enter()
        try:
            _lib.check(_lib.lib().anytls_pool_reset(handle, p))
        finally:
            self._gate.leave()

    def close(self) -> None:
        """Closes every stream and session and stops the client's thread. Idempotent.

        Reads blocked on the client's streams end with ClosedError; sockets from
        :meth:`open_socket` see the end of the stream.
        """
        handle = self._gate.shut()  # waits for the calls admitted before close began
        if handle is None:
            return
        with self._gate.cond:
            streams = list(self._streams.values())
        try:
            # Wakes reads and writes blocked on the client's streams with ClosedError.
            _lib.check(_lib.lib().anytls_client_close(handle))
        finally:
            # The handles of a closed client's streams must still be freed.
            for stream in streams:
                try:
                    stream.close()
                except Exception:
                    pass


    def __repr__(self) -> str:
        return f"<anytls.Client {'closed' if self.closed else 'open'}>"


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _lib.invalid(f"port: must be an int in 1..65535, not {port!r}")
    return port
