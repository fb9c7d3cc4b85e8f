#!/usr/bin/env python3
"""End-to-end tests of `anytls smoke` and of share links on the command line
(tools/anytls/cmd_smoke.cpp, lib/config/share_link.hpp).

Usage: test_smoke.py PATH_TO_ANYTLS

Starts a real `anytls server` process on 127.0.0.1 port 0 with a self-signed certificate
written to a temporary file, plus a TCP echo target and an HTTP server (http.server) on
127.0.0.1, and runs `anytls smoke` against them as a user would: with --config and with --uri,
--target and --url; a wrong password and an AnyTLS Alert from the server (exit 6), an unknown
CA (exit 5), a refused target (exit 7), a server that never answers (exit 8) and a closed port
(exit 4) each get their exit code and a sentence; links with an IPv6 host (::1, skipped when
IPv6 loopback is unavailable), an encoded password and a bad port; a 160 MiB answer to --url
is counted to the byte while smoke's peak RSS stays bounded. Standard library only (and
Debian's openssl for a certificate); plain asserts. Prints "N passed, M failed" and exits
non-zero when anything failed.
"""
import functools
import http.server
import os
import queue
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from cli_runner import run_tests
from tcp_targets import EchoTarget, TcpTarget

# The binary: argv[1] when run as a script (tests/cli/meson.build), else $ANYTLS (pytest).
ANYTLS = sys.argv[1] if __name__ == "__main__" and len(sys.argv) > 1 else os.environ.get("ANYTLS", "anytls")
TIMEOUT = 30  # generous: sanitizer builds on a loaded machine
PASSWORD = "p@ss word:%/#?"
BODY = b"hello through the tunnel\n"


# --- helpers ------------------------------------------------------------------------------


class HttpTarget:
    """http.server on 127.0.0.1 serving one file, hello.txt."""

    def __init__(self, directory):
        (Path(directory) / "hello.txt").write_bytes(BODY)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class FloodingTarget(TcpTarget):
    """An HTTP target on 127.0.0.1 that answers any request with a status line and `size` bytes
    as fast as it can, then closes: a large download or a peer that floods."""

    CHUNK = b"x" * (1 << 20)

    def __init__(self, size):
        self.size = size
        self.header = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
        super().__init__()

    def answer_bytes(self):
        return len(self.header) + self.size

    def handle(self, conn):
        with conn:
            try:
                conn.recv(65536)  # the request; its content does not matter
                conn.sendall(self.header)
                left = self.size
                while left > 0:
                    chunk = memoryview(self.CHUNK)[:min(left, len(self.CHUNK))]
                    conn.sendall(chunk)
                    left -= len(chunk)
            except OSError:
                return


CMD_SYN, CMD_ALERT, CMD_SYNACK = 1, 5, 7
# Commands whose frames carry data (lib/proto/frame.hpp command_carries_data).
COMMANDS_WITH_DATA = {0, 2, 4, 5, 6, 7, 10}


class AlertingServer(TcpTarget):
    """A TLS server on 127.0.0.1 that speaks just enough AnyTLS to end each session with an
    Alert frame: once the client's Settings arrive (`when="before-open"`), or after answering
    the first SYN with a SYNACK, once the stream's first data arrives (`when="mid-stream"`)."""

    def __init__(self, directory, when, text="go away: this server is closed for maintenance"):
        self.when, self.text = when, text.encode()
        cert, key = Path(directory) / "alert.pem", Path(directory) / "alert.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost", "-days", "2"],
                       check=True, capture_output=True, timeout=60)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        super().__init__()

    @staticmethod
    def _read_exact(tls, n):
        data = b""
        while len(data) < n:
            chunk = tls.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _frames(self, tls):
        while True:
            command, stream, length = struct.unpack(">BIH", self._read_exact(tls, 7))
            data = self._read_exact(tls, length) if command in COMMANDS_WITH_DATA else b""
            yield command, stream, data

    def handle(self, conn):
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                preamble = self._read_exact(tls, 34)  # sha256(password), padding length
                self._read_exact(tls, struct.unpack(">H", preamble[32:])[0])
                frames = self._frames(tls)
                if self.when == "mid-stream":
                    stream = next(s for command, s, _ in frames if command == CMD_SYN)
                    tls.sendall(struct.pack(">BIH", CMD_SYNACK, stream, 0))
                    next(f for f in frames if f[0] == 2)  # the request, in a PSH
                else:
                    next(f for f in frames if f[0] == 4)  # Settings
                tls.sendall(struct.pack(">BIH", CMD_ALERT, 0, len(self.text)) + self.text)
                time.sleep(1)  # the client reads the Alert before the connection ends
        except (OSError, EOFError, StopIteration, ssl.SSLError):
            return


class RunningServer:
    """`anytls server` on 127.0.0.1:0 (or [::1]:0) with a self-signed certificate written to ca.pem."""

    def __init__(self, directory, listen="127.0.0.1:0"):
        directory = Path(directory)
        self.config = directory / "server.toml"
        self.config.write_text(
            'listen = "127.0.0.1:0"\nself-signed-names = ["localhost"]\n'
            f'[[users]]\nname = "alice"\npassword = "{PASSWORD}"\n')
        self.cert = directory / "ca.pem"
        self.process = subprocess.Popen(
            [ANYTLS, "server", "--config", str(self.config), "--listen", listen, "--self-signed",
             "--write-cert", str(self.cert)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout] and None,
                         daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.process.kill()
                raise AssertionError("the server printed no 'listening on' line")
            if line.startswith("listening on "):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class World:
    """A server, an echo target and an HTTP target in a temporary directory."""

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.server = RunningServer(self.dir)
        self.echo = EchoTarget()
        self.http = HttpTarget(self.dir)
        return self

    def __exit__(self, *exc):
        self.server.close()
        self.http.server.shutdown()
        self.echo.listener.close()
        self.tmp.cleanup()

    def config(self, password=PASSWORD, ca=True, name="local"):
        path = self.dir / f"{name}.toml"
        ca_line = f'ca-file = "{self.server.cert}"\n' if ca else ""
        path.write_text(
            f'[[proxies]]\nname = "{name}"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {self.server.port}\n'
            f'password = "{password}"\nsni = "localhost"\n{ca_line}')
        return str(path)

    def link(self, password=PASSWORD, host="127.0.0.1", port=None, query="sni=localhost&insecure=1", name="x"):
        encoded = urllib.parse.quote(password, safe="")
        return f"anytls://{encoded}@{host}:{port or self.server.port}/?{query}#{name}"


def smoke(*args):
    return subprocess.run([ANYTLS, "smoke", *args], capture_output=True, text=True, timeout=120)


def smoke_with_peak_rss(*args):
    """Runs smoke; returns (returncode, stdout, stderr, peak RSS in KiB of that process alone)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([ANYTLS, "smoke", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss


def built_with_a_sanitizer():
    version = subprocess.run([ANYTLS, "version"], capture_output=True, text=True, timeout=TIMEOUT).stdout
    line = next(line for line in version.splitlines() if line.strip().startswith("sanitizers"))
    return line.split()[-1] != "none"


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --- tests --------------------------------------------------------------------------------

def test_target_through_the_server_exits_0():
    with World() as w:
        result = smoke("--config", w.config(), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        out = result.stdout
        assert "cold: connect + TLS handshake + authentication + stream open" in out, out
        assert "pool" in out and "busy 1" in out, out
        assert "first byte" in out and "OK" in out, out
        assert PASSWORD not in out + result.stderr


def test_url_against_a_local_http_server():
    with World() as w:
        result = smoke("--config", w.config(), "--url", f"http://127.0.0.1:{w.http.port}/hello.txt")
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        assert "HTTP/1.0 200 OK" in result.stdout, result.stdout
        assert "first byte" in result.stdout and "after the request was sent" in result.stdout
        assert f"{len(BODY)}" in result.stdout or "bytes in" in result.stdout
        missing = smoke("--config", w.config(), "--url", f"http://127.0.0.1:{w.http.port}/missing")
        assert missing.returncode == 0 and " 404 " in missing.stdout, (missing.stdout, missing.stderr)


def test_url_counts_a_flood_without_keeping_it():
    """A 160 MiB answer is counted to the byte, and smoke's peak RSS stays far below its size:
    only the head of the answer (for the status line) is kept."""
    size = 160 << 20
    with World() as w:
        flood = FloodingTarget(size)
        try:
            code, out, err, peak_kib = smoke_with_peak_rss(
                "--config", w.config(), "--url", f"http://127.0.0.1:{flood.port}/flood")
        finally:
            flood.listener.close()
        assert code == 0, (code, out, err)
        assert "HTTP/1.1 200 OK" in out, out
        assert f"received   {flood.answer_bytes()} bytes in " in out, out
        print(f"smoke peak RSS with a {size >> 20} MiB answer: {peak_kib / 1024:.1f} MiB")
        if built_with_a_sanitizer():
            print("sanitizer build: peak RSS reported only (the quarantine keeps freed memory)")
        else:
            assert peak_kib < 40 * 1024, f"peak RSS {peak_kib} KiB for a {size >> 20} MiB answer"


def test_an_alert_from_the_server_exits_6_with_its_text():
    """A server that ends the session with an AnyTLS Alert (before the stream opened, and
    after, while smoke reads the answer) closed the session: exit 6, and the Alert's text."""
    with tempfile.TemporaryDirectory() as directory:
        for when, args in [("before-open", ("--target", "127.0.0.1:9")),
                           ("mid-stream", ("--url", "http://127.0.0.1:9/"))]:
            server = AlertingServer(directory, when)
            try:
                link = f"anytls://pw@127.0.0.1:{server.port}/?sni=localhost&insecure=1#alerting"
                result = smoke("--uri", link, *args, "--timeout", "10s")
            finally:
                server.listener.close()
            assert result.returncode == 6, (when, result.returncode, result.stdout, result.stderr)
            assert "alert from server: go away: this server is closed for maintenance" in result.stderr, \
                (when, result.stderr)
            if when == "before-open":
                assert f"the server 127.0.0.1:{server.port} closed the session with an Alert" in result.stderr, \
                    result.stderr
                assert "wrong password" not in result.stderr, result.stderr
            else:  # the Alert may end the session while the request is written or the answer read
                assert ("could not send the request" in result.stderr
                        or "reading the answer failed" in result.stderr), result.stderr


def test_wrong_password_exits_6_with_a_sentence():
    with World() as w:
        result = smoke("--config", w.config(password="not the password"), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 6, (result.returncode, result.stdout, result.stderr)
        assert "closed the session" in result.stderr and "wrong password?" in result.stderr, result.stderr
        assert "not the password" not in result.stdout + result.stderr


def test_unknown_ca_exits_5_with_a_sentence():
    with World() as w:
        result = smoke("--config", w.config(ca=False), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
        assert "TLS verification failed" in result.stderr and "trusted CA" in result.stderr, result.stderr


def test_missing_ca_file_exits_3_naming_the_key_and_line():
    """Rejected while the configuration loads (as `anytls plan` rejects it), before any
    connection: the key, its line and the errno text, not wolfSSL's "unknown error number"."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "client.toml"
        # ca-file on line 7.
        path.write_text('[[proxies]]\nname = "a"\ntype = "anytls"\nserver = "127.0.0.1"\nport = 1\n'
                        'password = "p"\nca-file = "/nonexistent/ca.pem"\n')
        result = smoke("--config", str(path), "--target", "127.0.0.1:9")
        assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
        assert (f'{path}: proxy "a": key "ca-file" (line 7): cannot read "/nonexistent/ca.pem": '
                "No such file or directory") in result.stderr, result.stderr
        assert "unknown error number" not in result.stderr


def test_refused_target_exits_7():
    with World() as w:
        closed = socket.create_server(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        result = smoke("--config", w.config(), "--target", f"127.0.0.1:{port}")
        assert result.returncode == 7, (result.returncode, result.stdout, result.stderr)
        assert "could not connect to the target" in result.stderr, result.stderr


def test_unreachable_server_exits_4_and_silent_server_exits_8():
    with World() as w:
        closed = socket.create_server(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        result = smoke("--uri", w.link(port=port), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 4, (result.returncode, result.stdout, result.stderr)
        assert "connection refused" in result.stderr, result.stderr
        # Accepts TCP (the kernel does, from the backlog) but never answers the TLS handshake.
        silent = socket.create_server(("127.0.0.1", 0))
        try:
            result = smoke("--uri", w.link(port=silent.getsockname()[1]), "--target", f"127.0.0.1:{w.echo.port}",
                           "--timeout", "2s")
        finally:
            silent.close()
        assert result.returncode == 8, (result.returncode, result.stdout, result.stderr)
        assert "timed out" in result.stderr, result.stderr


def test_uri_with_an_encoded_password_works():
    with World() as w:
        link = w.link()
        assert "%40" in link and "%20" in link and "%25" in link and "%23" in link
        result = smoke("--uri", link, "--url", f"http://127.0.0.1:{w.http.port}/hello.txt")
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        assert "200 OK" in result.stdout and "proxy      x (" in result.stdout, result.stdout
        # The link's proxy next to a file's: --uri wins by default, --proxy chooses.
        both = smoke("--config", w.config(password="wrong"), "--uri", link, "--target", f"127.0.0.1:{w.echo.port}")
        assert both.returncode == 0, (both.stdout, both.stderr)
        chosen = smoke("--config", w.config(password="wrong"), "--uri", link, "--proxy", "local",
                       "--target", f"127.0.0.1:{w.echo.port}")
        assert chosen.returncode == 6, (chosen.stdout, chosen.stderr)


def test_uri_with_a_verified_certificate():
    with World() as w:
        # Without insecure=1 the link verifies against the system store: unknown CA.
        result = smoke("--uri", w.link(query="sni=localhost"), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 5, (result.returncode, result.stderr)


def test_uri_with_an_ipv6_host():
    if not ipv6_loopback_available():
        print("skip: no IPv6 loopback")
        return
    with tempfile.TemporaryDirectory() as directory:
        server = RunningServer(directory, listen="[::1]:0")
        echo = EchoTarget()
        try:
            link = f"anytls://{urllib.parse.quote(PASSWORD, safe='')}@[::1]:{server.port}/?sni=localhost&insecure=1#v6"
            result = smoke("--uri", link, "--target", f"127.0.0.1:{echo.port}")
            assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
            assert f"[::1]:{server.port}" in result.stdout, result.stdout
        finally:
            server.close()
            echo.listener.close()


def test_malformed_links_say_which_part_is_wrong():
    cases = [
        ("anytls://pw@127.0.0.1:70000", "the port must be a number from 1 to 65535"),
        ("anytls://pw@127.0.0.1:0", "the port must be a number from 1 to 65535"),
        ("anytls://127.0.0.1:443", "the password is missing"),
        ("vless://pw@127.0.0.1:443", "the scheme must be \"anytls\""),
        ("anytls://pw%zz@127.0.0.1", "the password has a bad percent-escape"),
        ("anytls://pw@::1:443", "IPv6 host must be written in brackets"),
        ("anytls://pw@127.0.0.1/?alpn=h2&obfs=x", "unknown query parameter \"obfs\""),
    ]
    for link, expected in cases:
        result = smoke("--uri", link, "--target", "127.0.0.1:9")
        assert result.returncode == 2, (link, result.returncode, result.stderr)
        assert "--uri: share link: " in result.stderr and expected in result.stderr, (link, result.stderr)
        assert "Traceback" not in result.stderr and "terminate" not in result.stderr


def test_uri_in_a_config_file():
    with World() as w:
        path = w.dir / "uri.toml"
        path.write_text(f'[[proxies]]\nuri = "{w.link(name="from-file")}"\n')
        result = smoke("--config", str(path), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        assert "from-file" in result.stdout
        path.write_text(f'[[proxies]]\nuri = "{w.link()}"\nport = 1\n')
        result = smoke("--config", str(path), "--target", f"127.0.0.1:{w.echo.port}")
        assert result.returncode == 3 and "remove either \"port\" or \"uri\"" in result.stderr, result.stderr


def test_usage_errors_exit_2():
    for args, expected in [
        ((), "--target"),
        (("--uri", "anytls://pw@h"), "--target"),
        (("--target", "127.0.0.1:1"), "--config FILE or --uri LINK is required"),
        (("--uri", "anytls://pw@h", "--target", "nope"), "--target expects HOST:PORT"),
        (("--uri", "anytls://pw@h", "--url", "https://example.com/"), "https:// is not supported"),
        (("--uri", "anytls://pw@h", "--target", "127.0.0.1:1", "--timeout", "soon"), "--timeout"),
    ]:
        result = smoke(*args)
        assert result.returncode == 2, (args, result.returncode, result.stderr)
        assert expected in result.stderr, (args, result.stderr)


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
