#!/usr/bin/env python3
"""End-to-end tests of `anytls server` (tools/anytls/cmd_server.cpp, docs/SERVER.md).

Usage: test_server.py PATH_TO_ANYTLS

Starts the built binary as a user would, on 127.0.0.1 port 0 with a self-signed certificate
written to a temporary file, and talks to it with Python's ssl module trusting that file:
a wrong password relayed to a fallback echo server, a wrong password closed without one, and
a right password followed by hand-written AnyTLS frames (docs/DESIGN.md, "The protocol":
Settings, SYN, PSH with a SOCKS address) that open a stream to an echo server. Also:
configuration errors exit 3 naming the key (never showing a password), a port in use exits 1,
SIGTERM and SIGINT exit 0. Standard library only; plain asserts. Prints "N passed, M failed" and
exits non-zero when anything failed.
"""
import hashlib
import os
import queue
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cli_runner import run_tests
from processes import recv_exactly
from tcp_targets import EchoTarget

ANYTLS = sys.argv[1] if len(sys.argv) > 1 else "anytls"
TIMEOUT = 10
DATA = Path(__file__).resolve().parent.parent / "data"

DEFAULT_SCHEME_MD5 = "75cff2ad89aadf5e257059ee571ebe11"
CMD_WASTE, CMD_SYN, CMD_PSH, CMD_FIN, CMD_SETTINGS, CMD_ALERT = 0, 1, 2, 3, 4, 5
CMD_UPDATE_PADDING, CMD_SYNACK, CMD_SERVER_SETTINGS = 6, 7, 10

PASSWORD = "correct horse"
USERS = f"""
[[users]]
name = "alice"
password = "{PASSWORD}"
"""


# --- helpers ------------------------------------------------------------------------------


class RunningServer:
    """`anytls server` started with --listen 127.0.0.1:0 --self-signed --write-cert."""

    def __init__(self, directory, config_text, *extra):
        self.directory = Path(directory)
        self.config = self.directory / "server.toml"
        self.config.write_text(config_text)
        self.cert = self.directory / "ca.pem"
        self.process = subprocess.Popen(
            [ANYTLS, "server", "--config", str(self.config), "--listen", "127.0.0.1:0", "--self-signed",
             "--write-cert", str(self.cert), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Both pipes are drained by threads (see _read_until_listening), so neither fills up.
        self.stderr_chunks = []
        self.stderr_reader = threading.Thread(target=lambda: self.stderr_chunks.extend(self.process.stderr),
                                              daemon=True)
        self.stderr_reader.start()
        self.lines = self._read_until_listening()
        self.port = int(self.lines[-1].rsplit(":", 1)[1])

    def _read_until_listening(self):
        # A reader thread, not select() on the pipe: the text wrapper reads ahead, so lines
        # can sit in its buffer while the file descriptor has nothing left to signal.
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout] and None,
                         daemon=True).start()
        seen = []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line.rstrip("\n"))
            if line.startswith("listening on "):
                return seen
        self.process.kill()
        raise AssertionError(f"no 'listening on' line: stdout {seen!r}, stderr {self._wait_stderr()!r}")

    def connect(self):
        """A TLS connection that trusts only the written certificate and checks "localhost"."""
        context = ssl.create_default_context(cafile=str(self.cert))
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        return context.wrap_socket(raw, server_hostname="localhost")

    def stop(self, signal_number=signal.SIGTERM):
        """Sends the signal; returns (exit code, stderr)."""
        self.process.send_signal(signal_number)
        code = self.process.wait(timeout=TIMEOUT)
        return code, self._wait_stderr()

    def wait_for_stderr(self, text, after=0):
        """Waits until a stderr line after the first `after` lines holds text; returns the
        number of lines by then."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            lines = list(self.stderr_chunks)
            if any(text in line for line in lines[after:]):
                return len(lines)
            time.sleep(0.01)
        raise AssertionError(f"no stderr line with {text!r}: {''.join(self.stderr_chunks)!r}")

    def _wait_stderr(self):
        self.stderr_reader.join(timeout=TIMEOUT)
        return "".join(self.stderr_chunks)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)


def preamble(password):
    """The auth preamble (docs/DESIGN.md, "Authentication"): sha256, u16 BE length, zeros."""
    return hashlib.sha256(password.encode()).digest() + struct.pack(">H", 30) + bytes(30)


def frame(command, stream_id, data=b""):
    return struct.pack(">BIH", command, stream_id, len(data)) + data


def settings(md5=DEFAULT_SCHEME_MD5):
    return frame(CMD_SETTINGS, 0, f"v=2\nclient=test\npadding-md5={md5}".encode())


def socks_ipv4(host, port):
    return bytes([0x01]) + socket.inet_aton(host) + struct.pack(">H", port)


def read_frame(sock):
    """The next frame that is not Waste: (command, stream id, data)."""
    while True:
        command, stream_id, length = struct.unpack(">BIH", recv_exactly(sock, 7))
        data = recv_exactly(sock, length) if length else b""
        if command != CMD_WASTE:
            return command, stream_id, data


def is_closed(sock):
    """True when the peer closes the connection (EOF or reset) before sending anything."""
    try:
        return sock.recv(1) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def run(*args):
    return subprocess.run([ANYTLS, *args], capture_output=True, text=True, timeout=60)


def assert_config_error(config_text, *must_contain, must_not_contain=()):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "server.toml"
        path.write_text(config_text)
        result = run("server", "--config", str(path))
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("anytls server: "), result.stderr
    for text in must_contain:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    for text in must_not_contain:
        assert text not in lines[0], f"{text!r} leaked into {lines[0]!r}"
    assert result.stdout == "", result.stdout
    return lines[0]


# --- tests --------------------------------------------------------------------------------

def test_help_documents_options():
    result = run("server", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--config", "--listen", "--self-signed", "--write-cert"):
        assert option in result.stdout, option
    assert "Exit codes:" in result.stdout


def test_prints_fingerprint_certificate_and_real_port():
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
        assert len(server.lines) == 3, server.lines
        fingerprint = server.lines[0].removeprefix("certificate sha256 ")
        assert server.lines[0].startswith("certificate sha256 ")
        assert server.lines[1] == f"certificate written to {server.cert}"
        assert server.lines[2] == f"listening on 127.0.0.1:{server.port}" and server.port > 0
        pem = server.cert.read_text()
        assert pem.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" not in pem
        der = ssl.PEM_cert_to_DER_cert(pem)
        expected = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert fingerprint == expected, (fingerprint, expected)
        # The certificate names the default self-signed-names: TLS to "localhost" verifies
        # (the connect helper checks the host name against the SANs).
        with server.connect() as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert server.stop()[0] == 0


def test_certificate_verifies_for_ip_address_names():
    config = 'self-signed-names = ["anytls.test", "127.0.0.1"]\n' + USERS
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, config) as server:
        context = ssl.create_default_context(cafile=str(server.cert))
        for name in ("anytls.test", "127.0.0.1"):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
            with context.wrap_socket(raw, server_hostname=name):
                pass
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        try:
            context.wrap_socket(raw, server_hostname="localhost")
            raise AssertionError("a name outside self-signed-names verified")
        except ssl.SSLCertVerificationError:
            pass
        finally:
            raw.close()


def test_wrong_password_goes_to_the_fallback():
    echo = EchoTarget()
    config = f'fallback = "127.0.0.1:{echo.port}"\n' + USERS
    try:
        with tempfile.TemporaryDirectory() as directory, RunningServer(directory, config) as server:
            with server.connect() as tls:
                sent = preamble("wrong password") + b"GET / HTTP/1.1\r\n\r\n"
                tls.sendall(sent)
                # The fallback sees exactly what the client sent, replayed, and answers through TLS.
                assert recv_exactly(tls, len(sent)) == sent
                tls.sendall(b"more bytes")
                assert recv_exactly(tls, 10) == b"more bytes"
            assert echo.connections == 1
            code, stderr = server.stop()
            assert code == 0, stderr
            assert "wrong password" not in stderr
    finally:
        echo.close()


def test_wrong_password_without_fallback_is_closed():
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
        with server.connect() as tls:
            tls.sendall(preamble("wrong password") + settings())
            assert is_closed(tls)


def test_right_password_opens_a_stream_to_an_echo_server():
    echo = EchoTarget()
    try:
        with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
            with server.connect() as tls:
                # One write, as a client does on a new session: preamble, Settings, SYN, address.
                tls.sendall(preamble(PASSWORD) + settings() + frame(CMD_SYN, 1)
                            + frame(CMD_PSH, 1, socks_ipv4("127.0.0.1", echo.port)))
                # Same padding md5: no UpdatePaddingScheme, only ServerSettings v=2.
                assert read_frame(tls) == (CMD_SERVER_SETTINGS, 0, b"v=2")
                assert read_frame(tls) == (CMD_SYNACK, 1, b"")
                for payload in (b"ping", b"x" * 5000):
                    tls.sendall(frame(CMD_PSH, 1, payload))
                    echoed = b""
                    while len(echoed) < len(payload):
                        command, stream_id, data = read_frame(tls)
                        assert (command, stream_id) == (CMD_PSH, 1), (command, stream_id)
                        echoed += data
                    assert echoed == payload
                tls.sendall(frame(CMD_FIN, 1))
            code, stderr = server.stop()
            assert code == 0, stderr
            assert PASSWORD not in stderr
    finally:
        echo.close()


def test_two_threads_carry_sessions_and_the_option_wins_over_the_file():
    """--threads 2 over the file's threads = 1: the server says so, and sessions opened one
    after another (handed out in turn to both threads) each carry a stream."""
    echo = EchoTarget()
    try:
        with tempfile.TemporaryDirectory() as directory, \
                RunningServer(directory, "threads = 1\n" + USERS, "--threads", "2") as server:
            for index in range(4):
                with server.connect() as tls:
                    tls.sendall(preamble(PASSWORD) + settings() + frame(CMD_SYN, 1)
                                + frame(CMD_PSH, 1, socks_ipv4("127.0.0.1", echo.port)))
                    assert read_frame(tls) == (CMD_SERVER_SETTINGS, 0, b"v=2")
                    assert read_frame(tls) == (CMD_SYNACK, 1, b"")
                    payload = f"session {index}".encode()
                    tls.sendall(frame(CMD_PSH, 1, payload))
                    assert read_frame(tls) == (CMD_PSH, 1, payload)
            code, stderr = server.stop()
            assert code == 0, stderr
            assert "server: 2 reactor threads, connections handed out in turn" in stderr, stderr
            assert "4 sessions" in stderr and "4 streams" in stderr, stderr
    finally:
        echo.close()


def test_check_validates_without_binding():
    """--check: one "configuration ok" line and exit 0 for a good file, even on a port in use
    (it binds nothing); exit 3 naming the cause for a key that only a start would refuse."""
    blocker = socket.create_server(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "server.toml"
            cert, key = write_key_pair(directory)
            path.write_text(f'listen = "127.0.0.1:{port}"\ncertificate = "{cert}"\n'
                            f'private-key = "{key}"\nthreads = 3\n' + USERS)
            result = run("server", "--config", str(path), "--check")
            assert result.returncode == 0, result.stderr
            assert result.stdout == f"configuration ok: {path}: listen 127.0.0.1:{port}, 1 user, 3 threads\n", \
                result.stdout
            # Two readable PEM files that are not one pair: only building the TLS context, as a
            # start does, finds that.
            other = Path(directory) / "other"
            other.mkdir()
            _, other_key = write_key_pair(other)
            path.write_text(f'listen = "127.0.0.1:0"\ncertificate = "{cert}"\nprivate-key = "{other_key}"\n' + USERS)
            result = run("server", "--config", str(path), "--check")
            assert result.returncode == 3, (result.returncode, result.stderr)
            assert "does not match the certificate" in result.stderr, result.stderr
            assert "configuration ok" not in result.stdout
            result = run("server", "--config", str(path), "--check", "--write-cert", str(Path(directory) / "c.pem"))
            assert result.returncode == 2 and "--check" in result.stderr, result.stderr
    finally:
        blocker.close()


def test_a_client_pins_the_self_signed_certificate_by_its_printed_fingerprint():
    """The "certificate sha256" line, as printed, is a client's fingerprint pin: no CA file, no
    skip-cert-verify, and the stream works; a wrong pin fails naming both fingerprints."""
    echo = EchoTarget()
    try:
        with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
            printed = next(line.split()[-1] for line in server.lines if line.startswith("certificate sha256 "))
            wrong = ("00" if not printed.startswith("00") else "11") + printed[2:]
            for pin, ok in ((printed, True), (printed.replace(":", "").lower(), True), (wrong, False)):
                client = Path(directory) / "client.toml"
                client.write_text('[[proxies]]\nname = "pinned"\ntype = "anytls"\nserver = "127.0.0.1"\n'
                                  f'port = {server.port}\npassword = "{PASSWORD}"\nsni = "localhost"\n'
                                  f'fingerprint = "{pin}"\n')
                result = run("smoke", "--config", str(client), "--target", f"127.0.0.1:{echo.port}",
                             "--timeout", "5s")
                if ok:
                    assert result.returncode == 0, (pin, result.stdout, result.stderr)
                else:
                    assert result.returncode != 0, result.stdout
                    assert "not the pinned fingerprint " + wrong[:11] in result.stdout + result.stderr, \
                        (result.stdout, result.stderr)
                    assert printed[:11] in result.stdout + result.stderr, (result.stdout, result.stderr)
    finally:
        echo.close()


def test_threads_out_of_range_is_refused():
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "server.toml"
        path.write_text('listen = "127.0.0.1:0"\nself-signed = true\n' + USERS)
        for bad in ("0", "257", "two"):
            result = run("server", "--config", str(path), "--threads", bad)
            assert result.returncode == 2 and "--threads" in result.stderr, (bad, result.stderr)
    assert_config_error('listen = "127.0.0.1:0"\nself-signed = true\nthreads = 0\n' + USERS,
                        'key "threads" (line 3): expected an integer from 1 to 256, got 0')


def open_echo_stream(tls, password, port, stream_id=1):
    """A new session's first write (preamble, Settings, SYN, address), then its answers."""
    tls.sendall(preamble(password) + settings() + frame(CMD_SYN, stream_id)
                + frame(CMD_PSH, stream_id, socks_ipv4("127.0.0.1", port)))
    first = read_frame(tls)
    if first[0] == CMD_UPDATE_PADDING:
        assert read_frame(tls) == (CMD_SERVER_SETTINGS, 0, b"v=2")
    else:
        assert first == (CMD_SERVER_SETTINGS, 0, b"v=2"), first
    assert read_frame(tls) == (CMD_SYNACK, stream_id, b"")
    return first


def echo_once(tls, stream_id, payload):
    tls.sendall(frame(CMD_PSH, stream_id, payload))
    assert read_frame(tls) == (CMD_PSH, stream_id, payload)


def test_sighup_reloads_users_and_scheme_and_keeps_sessions():
    """SIGHUP takes the file's new users and padding scheme for new connections; a session
    opened before keeps working; a file that does not load is refused and changes nothing."""
    echo = EchoTarget()
    scheme = "stop=2\n0=30-30\n1=100-200"
    try:
        with tempfile.TemporaryDirectory() as directory, \
                RunningServer(directory, USERS, "--threads", "2") as server:
            old_session = server.connect()
            open_echo_stream(old_session, PASSWORD, echo.port)
            server.config.write_text(f'padding-scheme = """{scheme}"""\n'
                                     '[[users]]\nname = "bob"\npassword = "bob secret"\n')
            server.process.send_signal(signal.SIGHUP)
            seen = server.wait_for_stderr("SIGHUP: reloaded")
            # New connections, on both threads: alice is gone, bob is in and gets the scheme.
            for _ in range(2):
                with server.connect() as tls:
                    tls.sendall(preamble(PASSWORD) + settings())
                    assert is_closed(tls)
                with server.connect() as tls:
                    assert open_echo_stream(tls, "bob secret", echo.port) == \
                        (CMD_UPDATE_PADDING, 0, scheme.encode())
                    echo_once(tls, 1, b"bob")
            # The session opened before the reload: its stream and a new one still work.
            echo_once(old_session, 1, b"still here")
            old_session.sendall(frame(CMD_SYN, 3) + frame(CMD_PSH, 3, socks_ipv4("127.0.0.1", echo.port)))
            assert read_frame(old_session) == (CMD_SYNACK, 3, b"")
            echo_once(old_session, 3, b"new stream")

            server.config.write_text("max-sessions = 0\n" + USERS)
            server.process.send_signal(signal.SIGHUP)
            server.wait_for_stderr("not reloaded, the running configuration stays", after=seen)
            errors = "".join(server.stderr_chunks[seen:])
            assert 'key "max-sessions" (line 1)' in errors, errors
            with server.connect() as tls:
                open_echo_stream(tls, "bob secret", echo.port)
            assert server.process.poll() is None
            old_session.close()
            code, stderr = server.stop()
            assert code == 0, stderr
            assert PASSWORD not in stderr and "bob secret" not in stderr
    finally:
        echo.close()


def scrape(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def test_metrics_count_sessions_streams_failures_and_bytes_per_user():
    """--metrics on a 2-thread server: one good session with an echoed stream and a refused
    one, one wrong password; the scrape counts each, by thread and by user."""
    echo = EchoTarget()
    closed_port = socket.create_server(("127.0.0.1", 0))
    refused_port = closed_port.getsockname()[1]
    closed_port.close()
    try:
        with tempfile.TemporaryDirectory() as directory, \
                RunningServer(directory, USERS, "--threads", "2", "--metrics", "127.0.0.1:0") as server:
            url = next(line.split()[-1] for line in server.lines if line.startswith("metrics on "))
            with server.connect() as tls:
                open_echo_stream(tls, PASSWORD, echo.port)
                echo_once(tls, 1, b"m" * 1000)
                tls.sendall(frame(CMD_SYN, 3) + frame(CMD_PSH, 3, socks_ipv4("127.0.0.1", refused_port)))
                command, stream_id, _ = read_frame(tls)
                assert (command, stream_id) == (CMD_SYNACK, 3)  # carrying the dial error
                with server.connect() as wrong:
                    wrong.sendall(preamble("wrong password") + settings())
                    assert is_closed(wrong)
                text = scrape(url)
                lines = set(text.splitlines())
                for line in ("anytls_server_sessions_total 1", "anytls_server_auth_failures_total 1",
                             "anytls_server_streams_opened_total 2", "anytls_server_streams_refused_total 1",
                             "anytls_server_connections_accepted_total 2",
                             "anytls_server_handshake_seconds_count 2"):
                    assert line in lines, (line, text)
                # The open session is on thread 0 (the first in turn), the failed one was on 1.
                assert 'anytls_server_connections{thread="0",state="authenticated"} 1' in lines, text
                assert 'anytls_server_connections{thread="1",state="authenticated"} 0' in lines, text
                traffic = {line.split("{")[1].split("}")[0]: int(line.split()[-1])
                           for line in lines if line.startswith("anytls_server_user_bytes_total{")}
                assert traffic['user="alice",direction="in"'] > 1000, traffic
                assert traffic['user="alice",direction="out"'] > 1000, traffic
            code, stderr = server.stop()
            assert code == 0, stderr
    finally:
        echo.close()


def test_other_padding_md5_gets_the_servers_scheme():
    scheme = "stop=3\n0=30-30\n1=100-200\n2=200-300"
    config = f'padding-scheme = """{scheme}"""\n' + USERS
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, config) as server:
        with server.connect() as tls:
            tls.sendall(preamble(PASSWORD) + settings())
            assert read_frame(tls) == (CMD_UPDATE_PADDING, 0, scheme.encode())
            assert read_frame(tls) == (CMD_SERVER_SETTINGS, 0, b"v=2")


def test_syn_before_settings_gets_an_alert():
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
        with server.connect() as tls:
            tls.sendall(preamble(PASSWORD) + frame(CMD_SYN, 1))
            command, _, _ = read_frame(tls)
            assert command == CMD_ALERT
            assert is_closed(tls)


def test_example_file_runs_and_keeps_the_default_scheme():
    """tests/data/server-example.toml (the docs' example) loads; its scheme is the default."""
    example = (DATA / "server-example.toml").read_text()
    with tempfile.TemporaryDirectory() as directory, RunningServer(directory, example) as server:
        with server.connect() as tls:
            tls.sendall(preamble("change-me-bob") + settings())
            assert read_frame(tls) == (CMD_SERVER_SETTINGS, 0, b"v=2")
        assert server.stop()[0] == 0


def test_sigint_and_sigterm_exit_0():
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with tempfile.TemporaryDirectory() as directory, RunningServer(directory, USERS) as server:
            with server.connect():
                pass
            code, stderr = server.stop(signal_number)
            assert code == 0, (signal_number, code, stderr)


def test_port_in_use_exits_1():
    blocker = socket.create_server(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "server.toml"
            path.write_text(f'listen = "127.0.0.1:{port}"\nself-signed = true\n' + USERS)
            result = run("server", "--config", str(path))
        assert result.returncode == 1, (result.returncode, result.stderr)
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr, \
            result.stderr
        assert "listening on" not in result.stdout
    finally:
        blocker.close()


def test_config_errors_exit_3_naming_the_key():
    base = 'listen = "127.0.0.1:0"\nself-signed = true\n'
    assert_config_error(base + 'fallbak = "127.0.0.1:80"\n' + USERS, 'unknown key "fallbak"',
                        'did you mean "fallback"')
    assert_config_error(base, 'missing required key "users"')
    assert_config_error(base + "users = []\n", '"users"')
    assert_config_error(base + 'padding-scheme = "no equals sign here"\n' + USERS, 'key "padding-scheme"',
                        "padding scheme")
    assert_config_error(base + "max-sessions = 0\n" + USERS, 'key "max-sessions"', "got 0")
    assert_config_error(base + 'handshake-timeout = "10 parsecs"\n' + USERS, 'key "handshake-timeout"')
    assert_config_error(base + 'synack = "sometimes"\n' + USERS, 'key "synack"', "after-connect")
    assert_config_error(base + 'fallback = "no-port"\n' + USERS, 'key "fallback"')
    assert_config_error('listen = "localhost:80"\nself-signed = true\n' + USERS, 'key "listen"')
    assert_config_error(base + USERS + 'pasword = "x"\n', 'unknown key "pasword"', 'did you mean "password"')
    assert_config_error('listen = "127.0.0.1:0"\n' + USERS, "certificate", "self-signed")
    assert_config_error(base + 'log-level = "loud"\n' + USERS, 'key "log-level"')
    assert_config_error('listen = "127.0.0.1:0"\ncertificate = "/nonexistent/server.pem"\n'
                        'private-key = "/nonexistent/server.key"\n' + USERS, "/nonexistent/server.pem")
    assert_config_error(base + "[[users]]\nname = 3\npassword = \"x\"\n", 'key "name"', "expected a string")
    assert_config_error(base + "listen = [\n", "TOML syntax error")


def write_key_pair(directory):
    """A self-signed certificate and its key, as PEM files (Debian's openssl)."""
    cert, key = Path(directory) / "a.pem", Path(directory) / "a.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost", "-days", "2"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_certificate_files_are_checked_with_the_key_line_and_cause():
    """A missing certificate and one that is not PEM say different things; both name the key
    and its line, and the private key is checked the same way."""
    with tempfile.TemporaryDirectory() as directory:
        cert, key = write_key_pair(directory)
        junk = Path(directory) / "junk.pem"
        junk.write_text("not a certificate\n")

        def config(certificate, private_key):
            # certificate on line 2, private-key on line 3.
            return f'listen = "127.0.0.1:0"\ncertificate = "{certificate}"\nprivate-key = "{private_key}"\n' + USERS

        missing = assert_config_error(config("/nonexistent/server.pem", key), 'key "certificate" (line 2): ',
                                      'cannot read "/nonexistent/server.pem": No such file or directory')
        not_pem = assert_config_error(config(junk, key), 'key "certificate" (line 2): ',
                                      f'"{junk}" holds no valid PEM certificate chain (')
        assert missing.split("(line 2): ")[1] != not_pem.split("(line 2): ")[1]
        assert "unknown error number" not in missing + not_pem
        assert_config_error(config(cert, "/nonexistent/server.key"), 'key "private-key" (line 3): ',
                            'cannot read "/nonexistent/server.key": No such file or directory')
        assert_config_error(config(cert, cert), 'key "private-key" (line 3): ', "holds no valid PEM private key")
        # --self-signed ignores the certificate keys, so their files are not read.
        path = Path(directory) / "server.toml"
        path.write_text(config("/nonexistent/server.pem", "/nonexistent/server.key"))
        process = subprocess.Popen([ANYTLS, "server", "--config", str(path), "--self-signed"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        try:
            lines = []
            while (line := process.stdout.readline()) and not line.startswith("listening on "):
                lines.append(line)
            assert line.startswith("listening on "), lines
        finally:
            process.terminate()
            process.wait(timeout=60)


def test_unreadable_and_oversized_configuration_files_say_why():
    with tempfile.TemporaryDirectory() as directory:
        result = run("server", "--config", directory)
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert f'cannot read configuration file "{directory}": Is a directory' in result.stderr, result.stderr
    assert_config_error('listen = "127.0.0.1:0"\nself-signed = true\n'
                        + USERS.replace(PASSWORD, "x" * 2_000_000),
                        "larger than 1 MiB (1048576 bytes), the limit of a configuration", must_not_contain=("xxxx",))


def test_passwords_never_appear_in_errors():
    base = 'listen = "127.0.0.1:0"\nself-signed = true\n'
    assert_config_error(base + '[[users]]\nname = "a"\npassword = 123456789\n', 'user "a"', 'key "password"',
                        must_not_contain=("123456789",))
    assert_config_error(base + '[[users]]\nname = "a"\npassword = "hunter2-secret"\n'
                        '[[users]]\nname = "b"\npassword = "hunter2-secret"\n', 'user "b"', "same password",
                        must_not_contain=("hunter2",))


def test_usage_errors_exit_2():
    assert run("server").returncode == 2
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "server.toml"
        path.write_text('listen = "127.0.0.1:0"\nself-signed = true\n' + USERS)
        result = run("server", "--config", str(path), "--listen", "nowhere")
        assert result.returncode == 2 and "--listen" in result.stderr, result.stderr
        cert, key = write_key_pair(directory)
        path.write_text(f'listen = "127.0.0.1:0"\ncertificate = "{cert}"\nprivate-key = "{key}"\n' + USERS)
        result = run("server", "--config", str(path), "--write-cert", str(Path(directory) / "x.pem"))
        assert result.returncode == 2 and "--write-cert" in result.stderr, result.stderr


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
