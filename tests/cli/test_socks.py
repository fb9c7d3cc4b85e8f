"""End-to-end tests of `anytls socks` (tools/anytls/cmd_socks.cpp, lib/inbound, docs/SOCKS.md).

Run by meson with pytest: ANYTLS=<path of the built binary> python3 -m pytest test_socks.py

Real parts only, all on 127.0.0.1: a real `anytls server` process (self-signed certificate,
trusted through ca-file), `anytls socks` processes pointed at it, a Python HTTP server serving
a random file, a UDP echo server, and the Debian `curl` as the proxy client. Bodies and
datagrams are compared byte for byte; /metrics is parsed by a strict hand-written parser of
the Prometheus text format.
"""
import http.server
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
from processes import recv_exactly, start_process, stop_process
from tcp_targets import EchoTarget

ANYTLS = os.environ.get("ANYTLS", "anytls")
TIMEOUT = 60  # generous: a loaded 2-core machine, sanitizer builds
PASSWORD = "socks test password"


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class UdpEcho:
    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                data, peer = self.socket.recvfrom(65535)
                self.socket.sendto(data, peer)
            except OSError:
                return


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("socks")
    served = directory / "www"
    served.mkdir()
    body = secrets.token_bytes(300_000)
    (served / "file.bin").write_bytes(body)
    handler = lambda *a, **k: QuietHandler(*a, directory=str(served), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    udp = UdpEcho()

    cert = directory / "ca.pem"
    (directory / "server.toml").write_text(f"""
listen = "127.0.0.1:0"
self-signed = true
self-signed-names = ["localhost", "127.0.0.1"]
synack = "after-connect"
connect-timeout = "5s"
log-level = "warning"
[[users]]
name = "tester"
password = "{PASSWORD}"
""")
    server, lines = start_process([ANYTLS, "server", "--config", str(directory / "server.toml"), "--write-cert",
                                   str(cert)], "listening on ")
    _, server_port = host_port(lines[-1].split()[-1])
    (directory / "client.toml").write_text(f"""
log-level = "warning"
[experimental.anytls-session-management]
ensure-idle-session = 1
idle-session-check-interval = "1s"
[[proxies]]
name = "local"
type = "anytls"
server = "127.0.0.1"
port = {server_port}
password = "{PASSWORD}"
sni = "localhost"
ca-file = "{cert}"
""")
    socks, lines = start_process([ANYTLS, "socks", "--config", str(directory / "client.toml"), "--listen",
                                  "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--verbose"], "listening on ")
    metrics_url = next(line.split()[-1] for line in lines if line.startswith("metrics on "))
    socks_address = lines[-1].split()[-1]
    auth, lines = start_process([ANYTLS, "socks", "--config", str(directory / "client.toml"), "--listen",
                                 "127.0.0.1:0", "--user", "alice:s3cret pass"], "listening on ")
    auth_address = lines[-1].split()[-1]
    after, lines = start_process([ANYTLS, "socks", "--config", str(directory / "client.toml"), "--listen",
                                  "127.0.0.1:0", "--socks-reply", "after-synack"], "listening on ")
    after_address = lines[-1].split()[-1]
    world_port = server_port
    world = {
        "body": body, "http_port": httpd.server_address[1], "udp_port": udp.port, "socks": socks_address,
        "auth": auth_address, "metrics": metrics_url, "socks_process": socks, "directory": directory,
        "server_port": world_port, "after_synack": after_address,
    }
    try:
        yield world
    finally:
        for process in (after, auth, socks, server):
            stop_process(process)
        httpd.shutdown()
        udp.socket.close()


def curl(*args):
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", str(TIMEOUT), *args],
                          capture_output=True, timeout=TIMEOUT + 10)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- curl through the entry point ---------------------------------------------------------

def test_socks5_hostname(world):
    result = curl("--socks5-hostname", world["socks"], f"http://localhost:{world['http_port']}/file.bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == world["body"]


def test_http_connect_tunnel(world):
    result = curl("--proxy", f"http://{world['socks']}", "--proxytunnel",
                  f"http://127.0.0.1:{world['http_port']}/file.bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == world["body"]


def test_plain_http_proxy(world):
    result = curl("--proxy", f"http://{world['socks']}", f"http://127.0.0.1:{world['http_port']}/file.bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == world["body"]


def test_plain_http_proxy_error_status_is_forwarded(world):
    result = curl("--proxy", f"http://{world['socks']}", "--write-out", "%{http_code}", "--output", os.devnull,
                  f"http://127.0.0.1:{world['http_port']}/missing")
    assert result.stdout == b"404"


def test_socks5_user_password(world):
    url = f"http://127.0.0.1:{world['http_port']}/file.bin"
    good = curl("--socks5-hostname", f"alice:s3cret%20pass@{world['auth']}", url)
    assert good.returncode == 0, good.stderr
    assert good.stdout == world["body"]
    wrong = curl("--socks5-hostname", f"alice:wrong@{world['auth']}", url)
    assert wrong.returncode != 0 and wrong.stdout == b""
    none = curl("--socks5-hostname", world["auth"], url)
    assert none.returncode != 0 and none.stdout == b""


def test_http_proxy_requires_credentials_when_configured(world):
    url = f"http://127.0.0.1:{world['http_port']}/file.bin"
    refused = curl("--proxy", f"http://{world['auth']}", "--write-out", "%{http_code}", "--output", os.devnull, url)
    assert refused.stdout == b"407"
    good = curl("--proxy", f"http://{world['auth']}", "--proxy-user", "alice:s3cret pass", url)
    assert good.returncode == 0, good.stderr
    assert good.stdout == world["body"]


# --- failures, by hand ----------------------------------------------------------------------

def socks5_connect(address, request_address, timeout=TIMEOUT):
    sock = socket.create_connection(host_port(address), timeout=timeout)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    sock.sendall(b"\x05\x01\x00" + request_address)
    return sock


def test_socks5_refused_target_is_answered_at_once_then_closed(world):
    # By default the reply does not wait for the server's SYNACK (as the reference and
    # mihomo): "succeeded", then the connection ends when the refusal arrives.
    with socks5_connect(world["socks"], b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", closed_port())) as s:
        reply = recv_exactly(s, 10)
        assert reply[:2] == b"\x05\x00", reply
        assert s.recv(16) == b""


def test_socks5_refused_target_gets_reply_05_after_synack(world):
    # --socks-reply after-synack keeps the exact SOCKS codes.
    address = b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", closed_port())
    with socks5_connect(world["after_synack"], address) as s:
        reply = recv_exactly(s, 10)
        assert reply[:2] == b"\x05\x05", reply


def test_socks_reply_option_is_checked(world):
    result = subprocess.run([ANYTLS, "socks", "--config", str(world["directory"] / "client.toml"), "--socks-reply",
                             "later"], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2, result
    assert "--socks-reply" in result.stderr


def test_socks5_unsupported_command_gets_reply_07(world):
    with socket.create_connection(host_port(world["socks"]), timeout=TIMEOUT) as s:
        s.sendall(b"\x05\x01\x00")
        assert s.recv(2) == b"\x05\x00"
        s.sendall(b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50")  # BIND
        assert recv_exactly(s, 10)[:2] == b"\x05\x07"


def test_http_refused_target_gets_502_with_reason(world):
    port = closed_port()
    result = curl("--proxy", f"http://{world['socks']}", "--write-out", "%{http_code}", f"http://127.0.0.1:{port}/")
    assert result.stdout.endswith(b"502"), result.stdout
    # The target is named as the one that failed, and the proxy as the one that says so.
    assert f'cannot reach 127.0.0.1:{port}: proxy "local" reports: '.encode() in result.stdout, result.stdout
    assert b"refused" in result.stdout


# --- who failed: the proxy or the target ----------------------------------------------------
#
# docs/SOCKS.md, "Errors": when the proxy fails (its server down, TLS, a wrong password) the
# SOCKS reply is 0x01 and the HTTP 502 page names the proxy; when the server reports that the
# target refused, the reply is 0x05 and the page names the target.

def proxy_answer(address, request):
    """Sends an HTTP proxy request by hand; returns (status line, body) of the answer."""
    with socket.create_connection(host_port(address), timeout=TIMEOUT) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body.decode()


def connect_request(port):
    return f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def get_request(port):
    return f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def socks5_reply_code(address, target_port):
    with socks5_connect(address, b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", target_port)) as s:
        return recv_exactly(s, 10)[1]


class EntryPoint:
    """`anytls socks --socks-reply MODE` for one proxy entry ([[proxies]] name = NAME)."""

    def __init__(self, directory, name, port, extra, mode, password=PASSWORD):
        config = Path(directory) / f"{name}-{mode}.toml"
        config.write_text(f'log-level = "error"\n[[proxies]]\nname = "{name}"\ntype = "anytls"\n'
                          f'server = "127.0.0.1"\nport = {port}\npassword = "{password}"\nsni = "localhost"\n'
                          + extra)
        self.process, lines = start_process([ANYTLS, "socks", "--config", str(config), "--listen", "127.0.0.1:0",
                                             "--socks-reply", mode], "listening on ")
        self.address = lines[-1].split()[-1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop_process(self.process)


@pytest.mark.parametrize("mode", ["immediate", "after-synack"])
def test_proxy_down_is_0x01_and_502_naming_the_proxy(world, tmp_path, mode):
    port = closed_port()
    with EntryPoint(tmp_path, "down", port, "skip-cert-verify = true\n", mode) as entry:
        # Before: 0x05 "connection refused", as if the target had refused.
        assert socks5_reply_code(entry.address, world["http_port"]) == 0x01
        for request in (connect_request(world["http_port"]), get_request(world["http_port"])):
            status, body = proxy_answer(entry.address, request)
            assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
            assert body.startswith(f'proxy "down" (127.0.0.1:{port}) unreachable: '), body
            assert "Connection refused" in body and "cannot reach" not in body, body


@pytest.mark.parametrize("mode", ["immediate", "after-synack"])
def test_tls_verify_failure_is_0x01_and_502_naming_the_proxy(world, tmp_path, mode):
    # No ca-file and no skip-cert-verify: the self-signed server's certificate does not verify.
    with EntryPoint(tmp_path, "noverify", world["server_port"], "", mode) as entry:
        assert socks5_reply_code(entry.address, world["http_port"]) == 0x01
        for request in (connect_request(world["http_port"]), get_request(world["http_port"])):
            status, body = proxy_answer(entry.address, request)
            assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
            assert body.startswith(f'proxy "noverify" (127.0.0.1:{world["server_port"]}): TLS failed: '), body
            assert "unknown CA" in body, body


def test_a_server_that_is_not_tls_is_0x01_and_502_naming_the_proxy(world, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def close_each():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=close_each, daemon=True).start()
    try:
        with EntryPoint(tmp_path, "plain", port, "skip-cert-verify = true\n", "immediate") as entry:
            assert socks5_reply_code(entry.address, world["http_port"]) == 0x01
            status, body = proxy_answer(entry.address, connect_request(world["http_port"]))
            assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
            assert body.startswith(f'proxy "plain" (127.0.0.1:{port}) failed: TLS handshake: '), body
    finally:
        listener.close()


def test_wrong_password_is_0x01_and_502_naming_the_proxy(world, tmp_path):
    ca = f'ca-file = "{world["directory"] / "ca.pem"}"\n'
    # After the SYNACK: the session's end is the open's failure, answered as such.
    with EntryPoint(tmp_path, "wrongpw", world["server_port"], ca, "after-synack", password="wrong") as entry:
        assert socks5_reply_code(entry.address, world["http_port"]) == 0x01
        status, body = proxy_answer(entry.address, connect_request(world["http_port"]))
        assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
        assert body.startswith(f'proxy "wrongpw" (127.0.0.1:{world["server_port"]}): authentication failed: '), body
        assert "wrong password?" in body, body
    # Immediately: a plain-HTTP request still has no answer when the session ends, so its
    # 502 page comes late, and names the proxy rather than the target.
    with EntryPoint(tmp_path, "wrongpw", world["server_port"], ca, "immediate", password="wrong") as entry:
        status, body = proxy_answer(entry.address, get_request(world["http_port"]))
        assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
        assert body.startswith(f'proxy "wrongpw" (127.0.0.1:{world["server_port"]}): authentication failed: '), body
        assert "cannot reach" not in body, body


def test_refused_target_is_0x05_and_502_naming_the_target(world):
    port = closed_port()
    assert socks5_reply_code(world["after_synack"], port) == 0x05
    for address, request in ((world["after_synack"], connect_request(port)), (world["after_synack"], get_request(port)),
                             (world["socks"], get_request(port))):
        status, body = proxy_answer(address, request)
        assert status == "HTTP/1.1 502 Bad Gateway", (status, body)
        assert body.startswith(f'cannot reach 127.0.0.1:{port}: proxy "local" reports: '), body
        assert "refused" in body, body


def test_garbage_gets_400(world):
    with socket.create_connection(host_port(world["socks"]), timeout=TIMEOUT) as s:
        s.sendall(b"HELLO\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer


def test_half_close_still_gets_the_answer(world):
    """The client sends its request and shuts down its write side; the reply still arrives."""
    with socks5_connect(world["socks"], b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", world["http_port"])) as s:
        assert recv_exactly(s, 10)[:2] == b"\x05\x00"
        s.sendall(b"GET /file.bin HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    assert body == world["body"]


def test_half_close_to_a_silent_target_ends_after_the_linger(world):
    """AnyTLS has no half-close: a target that waits for the client's end would hold the stream
    (and its session) forever. After the client's FIN and 2 s without an answer, the entry ends
    the stream and the client sees the end of the connection."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    try:
        target = b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", silent.getsockname()[1])
        with socks5_connect(world["socks"], target) as s:
            assert recv_exactly(s, 10)[:2] == b"\x05\x00"
            s.sendall(b"hello")
            s.shutdown(socket.SHUT_WR)
            started = time.monotonic()
            # While it drains, the stream hands its session back to the pool: no session is
            # busy, and another connection gets its answer meanwhile.
            busy = None
            while time.monotonic() - started < 1.0:
                busy = value(scrape(world)[1], "anytls_pool_sessions", proxy="local", state="busy")
                if busy == 0:
                    break
                time.sleep(0.05)
            assert busy == 0
            result = curl("--socks5-hostname", world["socks"], f"http://127.0.0.1:{world['http_port']}/file.bin")
            assert result.returncode == 0 and result.stdout == world["body"]
            s.settimeout(15)
            assert s.recv(1) == b""  # the end, not a timeout
            assert time.monotonic() - started >= 1.5
    finally:
        for connection, _ in held:
            connection.close()
        silent.close()


# --- UDP ASSOCIATE --------------------------------------------------------------------------

def test_udp_associate_echo(world):
    with socket.create_connection(host_port(world["socks"]), timeout=TIMEOUT) as control:
        control.sendall(b"\x05\x01\x00")
        assert control.recv(2) == b"\x05\x00"
        control.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        reply = recv_exactly(control, 4)
        assert reply[:2] == b"\x05\x00", reply
        assert reply[3] == 0x01
        relay_ip = socket.inet_ntoa(recv_exactly(control, 4))
        relay_port = struct.unpack(">H", recv_exactly(control, 2))[0]
        assert relay_ip == "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(TIMEOUT)
            header = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", world["udp_port"])
            for size in (1, 17, 512, 1400, 8000, 30000):
                payload = secrets.token_bytes(size)
                # UDP may drop a datagram even on loopback: resend until the echo is seen.
                deadline = time.monotonic() + TIMEOUT
                while True:
                    udp.sendto(header + payload, (relay_ip, relay_port))
                    udp.settimeout(2)
                    try:
                        data, source = udp.recvfrom(65535)
                    except socket.timeout:
                        assert time.monotonic() < deadline, f"no echo for {size} bytes"
                        continue
                    break
                assert source == (relay_ip, relay_port)
                assert data[:10] == header, data[:10]
                assert data[10:] == payload


# --- metrics ---------------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_prometheus(text):
    """A strict parser of the text format: HELP and TYPE before each family's samples, known
    types, well-formed labels and numbers, histogram series complete and cumulative."""
    assert text.endswith("\n")
    types, helps, samples = {}, {}, []
    for line in text.splitlines():
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in helps and help_text, line
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name in helps and name not in types, line
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _, label_text, value = match.groups()
        labels = {}
        if label_text:
            position = 0
            while position < len(label_text):
                label = LABEL.match(label_text, position)
                assert label, f"bad labels in {line!r}"
                assert label.group(1) not in labels
                labels[label.group(1)] = label.group(2)
                position = label.end()
        number = float(value)  # raises on a malformed number
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert family in types, f"sample {name} before its TYPE line"
        if types[family] == "counter":
            assert name.endswith("_total") and number >= 0
        samples.append((name, labels, number))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = [(labels, v) for n, labels, v in samples if n == family + "_bucket"]
        for proxy in {labels["proxy"] for labels, _ in buckets}:
            series = [(float(labels["le"]), v) for labels, v in buckets if labels["proxy"] == proxy]
            assert series[-1][0] == float("inf")
            assert [le for le, _ in series] == sorted(le for le, _ in series)
            assert all(a[1] <= b[1] for a, b in zip(series, series[1:])), "buckets are not cumulative"
            count = [v for n, labels, v in samples if n == family + "_count" and labels["proxy"] == proxy]
            assert count == [series[-1][1]]
            assert [v for n, labels, v in samples if n == family + "_sum" and labels["proxy"] == proxy]
    return types, samples


def value(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def scrape(world):
    result = curl("--fail", world["metrics"])
    assert result.returncode == 0, result.stderr
    return parse_prometheus(result.stdout.decode())


def test_metrics_move_as_streams_open(world):
    types, before = scrape(world)
    assert types["anytls_pool_sessions"] == "gauge"
    assert types["anytls_pool_sessions_closed_total"] == "counter"
    assert types["anytls_pool_stream_open_latency_seconds"] == "histogram"
    for state in ("idle", "busy", "creating"):
        value(before, "anytls_pool_sessions", proxy="local", state=state)
    for reason in ("idle", "age", "heartbeat", "error", "reset", "no_reuse"):
        value(before, "anytls_pool_sessions_closed_total", proxy="local", reason=reason)
    opened = value(before, "anytls_pool_streams_opened_total", proxy="local")
    for _ in range(3):
        result = curl("--socks5-hostname", world["socks"], f"http://127.0.0.1:{world['http_port']}/file.bin")
        assert result.returncode == 0 and result.stdout == world["body"]
    _, after = scrape(world)
    assert value(after, "anytls_pool_streams_opened_total", proxy="local") >= opened + 3
    assert value(after, "anytls_pool_stream_open_latency_seconds_count", proxy="local") == \
        value(after, "anytls_pool_streams_opened_total", proxy="local")
    assert value(after, "anytls_pool_warm_opens_total", proxy="local") + \
        value(after, "anytls_pool_cold_opens_total", proxy="local") == \
        value(after, "anytls_pool_streams_opened_total", proxy="local")
    assert value(after, "anytls_pool_sessions_created_total", proxy="local") >= 1
    assert value(after, "anytls_pool_stream_open_latency_seconds_sum", proxy="local") > 0


def test_metrics_other_paths_404(world):
    result = curl("--write-out", "%{http_code}", "--output", os.devnull, world["metrics"].replace("/metrics", "/x"))
    assert result.stdout == b"404"


def test_parser_rejects_malformed_text():
    with pytest.raises(AssertionError):
        parse_prometheus("x_total 1\n")  # no TYPE
    with pytest.raises(AssertionError):
        parse_prometheus('# HELP a_total h\n# TYPE a_total counter\na_total{l="1} 1\n')
    with pytest.raises(AssertionError):
        parse_prometheus('# HELP h h\n# TYPE h histogram\nh_bucket{proxy="p",le="1"} 5\n'
                         'h_bucket{proxy="p",le="+Inf"} 4\nh_sum{proxy="p"} 1\nh_count{proxy="p"} 4\n')


def test_verbose_logs_connections(world):
    result = curl("--socks5-hostname", world["socks"], f"http://127.0.0.1:{world['http_port']}/file.bin")
    assert result.returncode == 0
    # "anytls socks: socks5 127.0.0.1:PORT -> 127.0.0.1:HTTP: up N B, down M B, DURATION, ok"
    pattern = re.compile(rf"^anytls socks: socks5 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{world['http_port']}: "
                         rf"up \d+ B, down (\d+) B, [0-9.]+m?s, ok$")
    deadline = time.monotonic() + TIMEOUT
    while True:
        matches = [pattern.match(line.rstrip("\n")) for line in list(world["socks_process"].stderr_lines)]
        if any(m and int(m.group(1)) > len(world["body"]) for m in matches):
            break
        assert time.monotonic() < deadline, world["socks_process"].stderr_lines[-5:]
        time.sleep(0.1)


# --- command line --------------------------------------------------------------------------

def test_help_and_usage_errors(tmp_path):
    help_run = subprocess.run([ANYTLS, "socks", "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert help_run.returncode == 0 and "--metrics ADDR" in help_run.stdout and "--user USER:PASS" in help_run.stdout
    missing = subprocess.run([ANYTLS, "socks"], capture_output=True, text=True, timeout=TIMEOUT)
    assert missing.returncode == 2 and "--config FILE or --uri LINK is required" in missing.stderr
    config = tmp_path / "c.toml"
    config.write_text('[[proxies]]\nname = "a"\ntype = "anytls"\nserver = "127.0.0.1"\nport = 1\npassword = "p"\n')
    bad_listen = subprocess.run([ANYTLS, "socks", "--config", str(config), "--listen", "nowhere"],
                                capture_output=True, text=True, timeout=TIMEOUT)
    assert bad_listen.returncode == 2 and "--listen expects a numeric host:port" in bad_listen.stderr
    bad_proxy = subprocess.run([ANYTLS, "socks", "--config", str(config), "--proxy", "b"],
                               capture_output=True, text=True, timeout=TIMEOUT)
    assert bad_proxy.returncode == 2 and 'no proxy named "b"' in bad_proxy.stderr
    bad_link = subprocess.run([ANYTLS, "socks", "--uri", "anytls://pw@127.0.0.1:99999/"],
                              capture_output=True, text=True, timeout=TIMEOUT)
    assert bad_link.returncode == 2 and "--uri" in bad_link.stderr
    bad_user = subprocess.run([ANYTLS, "socks", "--config", str(config), "--user", "nocolon"],
                              capture_output=True, text=True, timeout=TIMEOUT)
    assert bad_user.returncode == 2


def test_share_link_instead_of_a_file(world):
    """--uri LINK: the proxy from an anytls:// link (percent-encoded password, insecure=1 as the
    link carries no CA) works like one from a file."""
    link = f"anytls://socks%20test%20password@127.0.0.1:{world['server_port']}/?insecure=1#linked"
    process, lines = start_process([ANYTLS, "socks", "--uri", link, "--listen", "127.0.0.1:0"], "listening on ")
    try:
        result = curl("--socks5-hostname", lines[-1].split()[-1], f"http://127.0.0.1:{world['http_port']}/file.bin")
        assert result.returncode == 0, result.stderr
        assert result.stdout == world["body"]
    finally:
        stop_process(process)


# --- idle memory (tools/anytls/memory_trim.hpp, docs/RELIABILITY.md "Idle memory") ----------


def resident_kib(process):
    """VmRSS and VmHWM (the peak) of a running process, in KiB."""
    fields = {}
    with open(f"/proc/{process.pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0])
    return fields


def built_with_a_sanitizer():
    version = subprocess.run([ANYTLS, "version"], capture_output=True, text=True, timeout=TIMEOUT).stdout
    line = next(line for line in version.splitlines() if line.strip().startswith("sanitizers"))
    return line.split()[-1] != "none"


def test_idle_memory_is_given_back_after_a_burst(world, tmp_path):
    # 300 streams at once, each carrying 64 KiB both ways, on sessions of their own; then all
    # closed, and the pool's idle-session-timeout (2s) closes the burst's sessions. Without
    # malloc_trim the entry point kept about half of what the burst added (docs/RELIABILITY.md,
    # "Idle memory"); with it, RSS must fall back to within an eighth of the burst's growth.
    if built_with_a_sanitizer():
        pytest.skip("a sanitizer's quarantine keeps freed memory by design, and it owns malloc")
    streams, payload = 300, secrets.token_bytes(64 * 1024)
    target = EchoTarget()
    config = tmp_path / "burst.toml"
    config.write_text(f"""
log-level = "warning"
[experimental.anytls-session-management]
ensure-idle-session = 1
idle-session-timeout = "2s"
idle-session-check-interval = "1s"
[[proxies]]
name = "local"
type = "anytls"
server = "127.0.0.1"
port = {world["server_port"]}
password = "{PASSWORD}"
sni = "localhost"
ca-file = "{world["directory"] / "ca.pem"}"
""")
    entry, lines = start_process([ANYTLS, "socks", "--config", str(config), "--listen", "127.0.0.1:0", "--metrics",
                                  "127.0.0.1:0", "--verbose"], "listening on ")
    address = lines[-1].split()[-1]
    metrics = next(line.split()[-1] for line in lines if line.startswith("metrics on "))
    request = b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", target.port)
    sockets = []
    try:
        # The warm session first, so that the base is the idle entry point.
        with socks5_connect(address, request) as s:
            assert recv_exactly(s, 10)[:2] == b"\x05\x00"
            s.sendall(b"warm")
            assert recv_exactly(s, 4) == b"warm"
        base = resident_kib(entry)["VmRSS"]
        for _ in range(streams):
            sockets.append(socks5_connect(address, request))
        for s in sockets:
            reply = recv_exactly(s, 10)
            assert reply[:2] == b"\x05\x00", (reply, [l for l in entry.stderr_lines if "up 0 B" in l][:5])
            s.sendall(payload)
        for s in sockets:
            assert recv_exactly(s, len(payload)) == payload
        peak = resident_kib(entry)["VmHWM"]
        for s in sockets:
            s.close()
        sockets.clear()
        growth = peak - base
        assert growth > 4 * 1024, (base, peak)  # the burst must have cost memory for this to mean anything
        # Wait for the burst's sessions to close (idle timeout), then for RSS to come down.
        deadline = time.monotonic() + TIMEOUT
        rss = peak
        while time.monotonic() < deadline:
            _, samples = parse_prometheus(curl("--fail", metrics).stdout.decode())
            sessions = sum(value(samples, "anytls_pool_sessions", proxy="local", state=state)
                           for state in ("idle", "busy", "creating"))
            rss = resident_kib(entry)["VmRSS"]
            if sessions <= 1 and rss - base <= growth / 8:
                break
            time.sleep(0.25)
        assert rss - base <= growth / 8, f"RSS {rss} KiB after the burst, base {base} KiB, peak {peak} KiB"
    finally:
        for s in sockets:
            s.close()
        stop_process(entry)
        target.close()


def test_sigterm_ends_an_open_in_flight_at_once(world, tmp_path):
    """A proxy that accepts TCP and never answers TLS: a CONNECT waits on the session's
    handshake. SIGTERM cancels that open and the entry exits at once; before, it waited up to
    3 s for the open to end on its own and then left it running."""
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        entry = EntryPoint(tmp_path, "silent", silent.getsockname()[1], "skip-cert-verify = true\n", "after-synack")
        s = socket.create_connection(host_port(entry.address), timeout=TIMEOUT)
        try:
            s.sendall(b"\x05\x01\x00")
            assert recv_exactly(s, 2) == b"\x05\x00"
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", world["http_port"]))
            time.sleep(0.3)  # the open is waiting on the TLS handshake
            started = time.monotonic()
            entry.process.send_signal(signal.SIGTERM)
            assert entry.process.wait(timeout=TIMEOUT) == 0
            assert time.monotonic() - started < 1.0
        finally:
            s.close()
            stop_process(entry.process)
    finally:
        silent.close()
