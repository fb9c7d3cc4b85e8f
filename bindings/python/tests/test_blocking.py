"""Blocking API: round trips, threads, errors, timeouts, pool configuration, fd hygiene."""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import socket
import threading
import time
from typing import List

import pytest

import anytls
from conftest import fd_count


def _round_trip(stream: anytls.Stream, total: int, chunk: int = 16384) -> None:
    sent = hashlib.sha256()
    got = hashlib.sha256()
    remaining = total
    while remaining:
        data = os.urandom(min(chunk, remaining))
        remaining -= len(data)
        sent.update(data)
        stream.sendall(data)
        need = len(data)
        while need:
            piece = stream.recv(need)
            assert piece, "unexpected end of stream"
            got.update(piece)
            need -= len(piece)
    assert got.hexdigest() == sent.hexdigest()


def test_library_loaded() -> None:
    anytls.load_library()
    assert anytls.abi_version() == 1
    assert anytls.library_version().count(".") == 2
    assert anytls.strerror(-5)


def test_round_trip_sha256(client: anytls.Client, echo_port: int) -> None:
    for size in (1, 1000, 65536, 1 << 20):
        with client.open("test", "127.0.0.1", echo_port, timeout=10, io_timeout=10) as s:
            _round_trip(s, size)


def test_recv_into_makefile_bytearray(client: anytls.Client, echo_port: int) -> None:
    with client.open("test", "127.0.0.1", echo_port, timeout=10) as s:
        s.settimeout(10)
        payload = bytearray(os.urandom(5000))
        s.sendall(memoryview(payload))
        buf = bytearray(5000)
        view = memoryview(buf)
        n = 0
        while n < len(buf):
            got = s.recv_into(view[n:])
            assert got > 0
            n += got
        assert buf == payload
        f = s.makefile("rwb")
        f.write(b"line one\nline two\n")
        f.flush()
        assert f.readline() == b"line one\n"
        assert f.readline() == b"line two\n"


def test_socket_mode(client: anytls.Client, echo_port: int) -> None:
    sock = client.open_socket("test", "127.0.0.1", echo_port, timeout=10)
    with sock:
        assert isinstance(sock, socket.socket)
        sock.settimeout(10)
        data = os.urandom(200_000)
        threading.Thread(target=sock.sendall, args=(data,), daemon=True).start()
        got = bytearray()
        while len(got) < len(data):
            piece = sock.recv(65536)
            assert piece
            got += piece
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_stream_as_socket(client: anytls.Client, echo_port: int) -> None:
    # A Stream used through its own API first, then handed over to a real socket.
    s = client.open("test", "127.0.0.1", echo_port, timeout=10)
    s.sendall(b"before ")
    assert s.recv(7, timeout=5) == b"before "
    sock = s.as_socket()
    assert s.closed
    with sock:
        assert isinstance(sock, socket.socket)
        sock.settimeout(10)
        data = os.urandom(100_000)
        threading.Thread(target=sock.sendall, args=(data,), daemon=True).start()
        got = bytearray()
        while len(got) < len(data):
            piece = sock.recv(65536)
            assert piece
            got += piece
        assert got == data
    with pytest.raises(anytls.ClosedError):
        s.recv(1)


def test_fifty_threads(client: anytls.Client, echo_port: int) -> None:
    errors: List[BaseException] = []
    barrier = threading.Barrier(50)

    def worker() -> None:
        try:
            barrier.wait(30)
            for _ in range(3):
                with client.open("test", "127.0.0.1", echo_port, timeout=30, io_timeout=30) as s:
                    _round_trip(s, 100_000, 8192)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    st = client.stats("test")
    assert st.streams_opened >= 150


def test_target_refused(client: anytls.Client, closed_port: int) -> None:
    # The open is handed out before the SYNACK: the refusal is the first read's error.
    with client.open("test", "127.0.0.1", closed_port, timeout=10, io_timeout=10) as s:
        with pytest.raises(anytls.TargetRefusedError) as info:
            s.recv(1)
    assert info.value.code == -10
    assert info.value.message
    assert isinstance(info.value, anytls.AnyTLSError)
    assert isinstance(info.value, ConnectionRefusedError)


def test_target_refused_when_waiting_for_the_synack(client: anytls.Client, closed_port: int) -> None:
    with pytest.raises(anytls.TargetRefusedError) as info:
        client.open("test", "127.0.0.1", closed_port, timeout=10, wait_connected=True)
    assert info.value.message


def test_target_refused_through_a_socket(client: anytls.Client, closed_port: int) -> None:
    with client.open_socket("test", "127.0.0.1", closed_port, timeout=10) as sock:
        sock.settimeout(10)
        with pytest.raises(anytls.TargetRefusedError) as info:
            sock.recv(16)
    assert info.value.message


def test_read_timeout(client: anytls.Client, echo_port: int) -> None:
    with client.open("test", "127.0.0.1", echo_port, timeout=10) as s:
        start = time.monotonic()
        with pytest.raises(anytls.TimeoutError) as info:
            s.recv(100, timeout=0.3)
        assert 0.25 <= time.monotonic() - start < 5
        assert isinstance(info.value, TimeoutError)  # the builtin, too
        assert info.value.code == -5
        # The stream stays usable after a read timeout.
        s.sendall(b"still here")
        assert s.recv(100, timeout=10) == b"still here"


def test_close_wakes_blocked_reader(client: anytls.Client, echo_port: int) -> None:
    s = client.open("test", "127.0.0.1", echo_port, timeout=10)
    caught: List[BaseException] = []

    def reader() -> None:
        try:
            s.recv(10)
        except BaseException as exc:  # noqa: BLE001
            caught.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    s.close()
    t.join(5)
    assert not t.is_alive()
    assert caught and isinstance(caught[0], anytls.ClosedError)
    with pytest.raises(anytls.ClosedError):
        s.sendall(b"x")


def test_unknown_proxy_and_bad_arguments(client: anytls.Client, echo_port: int) -> None:
    with pytest.raises(anytls.UnknownProxyError) as info:
        client.open("nope", "127.0.0.1", echo_port, timeout=5)
    assert "nope" in str(info.value)
    with pytest.raises(anytls.InvalidArgumentError):
        client.open("test", "127.0.0.1", echo_port, timeout=0)
    with pytest.raises(anytls.InvalidArgumentError):
        client.open("test", "127.0.0.1", 0, timeout=5)
    with pytest.raises(anytls.UnknownProxyError):
        client.stats("nope")


def test_bad_config_names_key() -> None:
    with pytest.raises(anytls.ConfigError) as info:
        anytls.Client(config="[experimental.anytls-session-management]\nensure-idle-session = -3\n")
    assert info.value.code == -2
    assert "ensure-idle-session" in str(info.value)
    with pytest.raises(anytls.ConfigError) as info:
        anytls.Client(config="[experimental.anytls-session-management]\nensure-idle-sesion = 3\n")
    assert "ensure-idle-sesion" in str(info.value)
    with pytest.raises(anytls.IOError) as io_info:
        anytls.Client(path="/nonexistent/anytls.toml")
    assert "/nonexistent/anytls.toml" in str(io_info.value)


def test_client_from_file(tmp_path, server: anytls.Server, pki, echo_port: int) -> None:  # type: ignore[no-untyped-def]
    from conftest import client_toml

    path = tmp_path / "client.toml"
    path.write_text(client_toml(server.port, pki["ca"]))
    with anytls.Client(path=path) as c:
        with c.open("test", "127.0.0.1", echo_port, timeout=10) as s:
            _round_trip(s, 1000)
    assert c.closed
    with pytest.raises(anytls.ClosedError):
        c.stats("test")


def test_connect_errors(server: anytls.Server, pki, echo_port: int, closed_port: int) -> None:  # type: ignore[no-untyped-def]
    # The system trust store does not know the test CA.
    toml = (f'[[proxies]]\nname = "v"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {server.port}\n'
            'password = "secret"\n')
    with anytls.Client(config=toml) as c:
        with pytest.raises(anytls.ConnectError) as info:
            c.open("v", "127.0.0.1", echo_port, timeout=5)
        assert info.value.code == -8
    toml = (f'[[proxies]]\nname = "down"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {closed_port}\n'
            f'password = "secret"\nca-file = "{pki["ca"]}"\n')
    with anytls.Client(config=toml) as c:
        with pytest.raises(anytls.ConnectError) as info:
            c.open("down", "127.0.0.1", echo_port, timeout=5)
        assert info.value.code == -6


def test_pool_config_validation(client: anytls.Client) -> None:
    cfg = client.pool_config("test")
    assert isinstance(cfg, anytls.PoolConfig)
    assert cfg.idle_session_timeout == 30.0
    assert cfg.session_reuse is True
    with pytest.raises(anytls.ConfigError) as info:
        client.set_pool_config("test", idle_session_check_interval=0)
    assert "idle-session-check-interval" in str(info.value)
    with pytest.raises(anytls.ConfigError) as info:
        client.set_pool_config("test", ensure_idle_session=-1)
    assert "ensure-idle-session" in str(info.value)
    with pytest.raises(anytls.ConfigError) as info:
        client.set_pool_config("test", no_such_key=1)
    assert "no-such-key" in str(info.value)
    assert client.pool_config("test") == cfg  # nothing applied
    new = client.set_pool_config("test", idle_session_timeout=datetime.timedelta(seconds=45),
                                 heartbeat_timeout=7.5)
    assert new.idle_session_timeout == 45.0 and new.heartbeat_timeout == 7.5
    assert client.set_pool_config("test", cfg) == cfg


def test_live_reconfigure(fresh_client: anytls.Client, echo_port: int) -> None:
    c = fresh_client
    st = c.stats("live")
    assert st.idle == 0 and st.created_total == 0
    assert c.pool_config("live").idle_session_check_interval == 1.0
    assert c.set_pool_config("live", ensure_idle_session=3).ensure_idle_session == 3
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        st = c.stats("live")
        if st.idle >= 3:
            break
        time.sleep(0.1)
    assert st.idle == 3
    with c.open("live", "127.0.0.1", echo_port, timeout=10) as s:
        _round_trip(s, 100)
        assert c.stats("live").warm_opens == 1
    c.reset("live")
    assert c.stats("live").closed_reset >= 2


def test_no_fd_leak(client: anytls.Client, echo_port: int) -> None:
    def settle(limit: int) -> int:
        deadline = time.monotonic() + 10
        n = fd_count()
        while n > limit and time.monotonic() < deadline:
            time.sleep(0.05)
            n = fd_count()
        return n

    # Warm up: a session in the pool, the echo server's threads.
    with client.open("test", "127.0.0.1", echo_port, timeout=10) as s:
        _round_trip(s, 10)
    time.sleep(0.3)
    before = fd_count()
    for i in range(1000):
        if i % 2:
            with client.open("test", "127.0.0.1", echo_port, timeout=10) as s:
                s.sendall(b"ping")
                assert s.recv(4, timeout=10) == b"ping"
        else:
            with client.open_socket("test", "127.0.0.1", echo_port, timeout=10) as sock:
                sock.settimeout(10)
                sock.sendall(b"pong")
                assert sock.recv(4) == b"pong"
    after = settle(before + 5)
    assert after - before <= 5, (before, after)


def test_log_lines_reach_logging(caplog: pytest.LogCaptureFixture, pki, echo_port: int) -> None:  # type: ignore[no-untyped-def]
    anytls.set_log_level(logging.WARNING)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = port.getsockname()[1]
    port.close()
    toml = (f'[[proxies]]\nname = "down"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {closed}\n'
            f'password = "secret"\nca-file = "{pki["ca"]}"\n')
    with caplog.at_level(logging.DEBUG, logger="anytls"):
        anytls.set_log_level(logging.DEBUG)
        try:
            with anytls.Client(config=toml) as c:
                with pytest.raises(anytls.ConnectError):
                    c.open("down", "127.0.0.1", echo_port, timeout=5)
        finally:
            anytls.set_log_level(logging.WARNING)
    assert any(r.name == "anytls" for r in caplog.records)


def test_server_bad_config() -> None:
    with pytest.raises(anytls.ConfigError):
        anytls.Server('listen = "127.0.0.1:0"\n')


def test_server_from_the_cli_configuration_with_a_self_signed_certificate(echo_port: int) -> None:
    # Every key of docs/SERVER.md; the generated certificate cannot be pinned from here, so the
    # client skips verification (the handshake with that certificate is still real).
    toml = ('listen = "127.0.0.1:0"\nself-signed = true\nself-signed-names = ["localhost"]\n'
            'padding-scheme = """\nstop=2\n0=30-30\n1=100-400\n"""\nfallback = "127.0.0.1:9"\n'
            'synack = "after-connect"\nmax-sessions = 8\nmax-streams-per-session = 4\n'
            'handshake-timeout = "5s"\nauth-timeout = 5\nconnect-timeout = "5s"\nalpn = ["h2"]\n'
            'log-level = "warning"\n[[users]]\nname = "py"\npassword = "py-secret"\n')
    with anytls.Server(toml) as server:
        config = ('[[proxies]]\nname = "self"\ntype = "anytls"\nserver = "127.0.0.1"\n'
                  f'port = {server.port}\npassword = "py-secret"\nskip-cert-verify = true\n'
                  'alpn = ["h2"]\n')
        with anytls.Client(config=config) as c:
            with c.open("self", "127.0.0.1", echo_port, timeout=10) as s:
                _round_trip(s, 50000)
    with pytest.raises(anytls.ConfigError, match=r'key "max-sessions" \(line 2\)'):
        anytls.Server('self-signed = true\nmax-sessions = 0\n[[users]]\npassword = "x"\n')


def test_embedded_server_on_two_threads_serves_its_metrics(echo_port: int, closed_port: int) -> None:
    # threads and metrics reach the embedded server through the C ABI (docs/C-API.md): two
    # sessions land on the two reactor threads in turn, and /metrics counts them by thread.
    import urllib.request
    toml = (f'listen = "127.0.0.1:0"\nself-signed = true\nthreads = 2\nmetrics = "127.0.0.1:{closed_port}"\n'
            'log-level = "warning"\n[[users]]\nname = "py"\npassword = "py-secret"\n')
    with anytls.Server(toml) as server:
        config = ('[experimental.anytls-session-management]\nsession-reuse = false\n'
                  '[[proxies]]\nname = "self"\ntype = "anytls"\nserver = "127.0.0.1"\n'
                  f'port = {server.port}\npassword = "py-secret"\nskip-cert-verify = true\n')
        with anytls.Client(config=config) as c:
            for _ in range(2):
                with c.open("self", "127.0.0.1", echo_port, timeout=10) as s:
                    _round_trip(s, 1000)
        with urllib.request.urlopen(f"http://127.0.0.1:{closed_port}/metrics", timeout=10) as response:
            text = response.read().decode()
    lines = set(text.splitlines())
    assert "anytls_server_sessions_total 2" in lines, text
    assert "anytls_server_streams_opened_total 2" in lines, text
    assert any(line.startswith('anytls_server_connections{thread="1",') for line in lines), text
    assert 'anytls_server_user_bytes_total{user="py",direction="in"} 0' not in lines, text


def test_a_nul_in_a_name_is_refused(client: anytls.Client, echo_port: int) -> None:
    with pytest.raises(ValueError, match="NUL"):
        client.open("test", "127.0.0.1\0evil", echo_port, timeout=10)
    with pytest.raises(ValueError, match="NUL"):
        client.open("te\0st", "127.0.0.1", echo_port, timeout=10)


def test_send_returns_the_count_and_a_huge_recv_allocates_one_read(client: anytls.Client, echo_port: int) -> None:
    with client.open("test", "127.0.0.1", echo_port, timeout=10, io_timeout=10) as s:
        assert s.send(b"hello") == 5
        assert s.send(memoryview(b"abc")) == 3
        got = b""
        while len(got) < 8:
            got += s.recv(2 ** 31)  # would be a 2 GiB buffer if not capped
        assert got == b"helloabc"


def test_an_unclosed_stream_warns(client: anytls.Client, echo_port: int) -> None:
    import gc
    s = client.open("test", "127.0.0.1", echo_port, timeout=10)
    with pytest.warns(ResourceWarning, match="unclosed"):
        del s
        gc.collect()


def test_a_wrong_password_is_an_authentication_error(server: anytls.Server, pki: dict, echo_port: int) -> None:
    toml = (f'[[proxies]]\nname = "bad"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {server.port}\n'
            f'password = "not the password"\nca-file = "{pki["ca"]}"\n')
    with anytls.Client(config=toml) as c:
        with pytest.raises(anytls.AuthenticationError) as info:
            with c.open("bad", "127.0.0.1", echo_port, timeout=10, io_timeout=10) as s:
                s.sendall(b"x")
                s.recv(1)
    assert isinstance(info.value, anytls.ConnectError)
    assert "wrong password?" in info.value.message
