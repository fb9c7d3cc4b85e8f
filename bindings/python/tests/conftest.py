"""Fixtures: a test PKI made with the openssl command, TCP targets on 127.0.0.1, the embedded
AnyTLS server and a client configured for it."""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import subprocess
import threading
from typing import Dict, Iterator

import pytest

import anytls


def _run(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                               "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _run("openssl", "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
         "-days", "3650", "-subj", "/CN=anytls-python-ca")
    _run("openssl", "req", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
         "-subj", "/CN=localhost")
    _run("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
         "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "server.pem"), "-days", "825",
         "-extfile", str(d / "san.ext"))
    return {"ca": str(d / "ca.pem"), "cert": str(d / "server.pem"), "key": str(d / "server.key"),
            "dir": str(d)}


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                sock.sendall(data)
            except OSError:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


@pytest.fixture(scope="session")
def echo_port() -> Iterator[int]:
    """A TCP echo service on 127.0.0.1 (one thread per connection)."""
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture()
def closed_port() -> int:
    """A port on 127.0.0.1 on which nothing listens."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture(scope="session")
def server(pki: Dict[str, str]) -> Iterator[anytls.Server]:
    toml = (f'listen = "127.0.0.1:0"\ncertificate = "{pki["cert"]}"\nprivate-key = "{pki["key"]}"\n'
            'synack = "after-connect"\n[[users]]\nname = "tester"\npassword = "secret"\n')
    with anytls.Server(toml) as s:
        yield s


def client_toml(server_port: int, ca: str) -> str:
    return (
        'log-level = "warning"\n'
        f'[[proxies]]\nname = "test"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {server_port}\n'
        f'password = "secret"\nca-file = "{ca}"\n'
        f'[[proxies]]\nname = "live"\ntype = "anytls"\nserver = "127.0.0.1"\nport = {server_port}\n'
        f'password = "secret"\nca-file = "{ca}"\n'
        '[proxies.session-override]\nidle-session-check-interval = "1s"\n'
    )


@pytest.fixture(scope="session")
def client(server: anytls.Server, pki: Dict[str, str]) -> Iterator[anytls.Client]:
    with anytls.Client(config=client_toml(server.port, pki["ca"])) as c:
        yield c


@pytest.fixture()
def fresh_client(server: anytls.Server, pki: Dict[str, str]) -> Iterator[anytls.Client]:
    with anytls.Client(config=client_toml(server.port, pki["ca"])) as c:
        yield c


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"ANYTLS_LIBRARY={os.environ.get('ANYTLS_LIBRARY', '(unset)')}"


