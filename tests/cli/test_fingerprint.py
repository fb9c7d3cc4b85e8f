#!/usr/bin/env python3
"""The ClientHello our client sends, taken apart by tools/fingerprint/clienthello.py
(docs/FINGERPRINT.md).

Usage: test_fingerprint.py PATH_TO_ANYTLS

- The parser and the JA4 code reproduce the recorded hellos' known JA4 strings
  (tests/data/clienthello/: Go 1.26 crypto/tls, mihomo 1.19.30 with and without uTLS chrome,
  sing-box 1.14.1, and ours before the hello was shaped, which tests/interop/crowd records;
  Debian 12's Chromium 156 and Firefox ESR 153, recorded by hand as docs/FINGERPRINT.md says).
- `anytls smoke` through a capturing listener: our hello offers Go's cipher suites and groups
  in Go's order, one X25519 key share, a 32-byte session id, no encrypt_then_mac and only
  extensions Go sends too, so JA4's suite hash equals Go's.
Standard library only; plain asserts.
"""
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools" / "fingerprint"))
import clienthello  # noqa: E402
from cli_runner import run_tests  # noqa: E402

ANYTLS = sys.argv[1] if len(sys.argv) > 1 else "anytls"
DATA = HERE.parent / "data" / "clienthello"


def recorded(name):
    return clienthello.parse_client_hello((DATA / name).read_bytes())


def our_hello():
    """Our client's ClientHello, captured on 127.0.0.1."""
    import socket
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    captured = {}
    thread = threading.Thread(target=lambda: captured.update(data=clienthello.capture(port, timeout=20)),
                              daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "client.toml"
        config.write_text('[[proxies]]\nname = "p"\ntype = "anytls"\nserver = "127.0.0.1"\n'
                          f'port = {port}\npassword = "x"\nsni = "example.com"\nskip-cert-verify = true\n')
        for _ in range(50):  # until the capture listens
            result = subprocess.run([ANYTLS, "smoke", "--config", str(config), "--target", "127.0.0.1:9",
                                     "--timeout", "2s"], capture_output=True, text=True, timeout=30)
            thread.join(timeout=0.1)
            if "data" in captured:
                break
    thread.join(timeout=5)
    assert "data" in captured, result.stderr
    return clienthello.parse_client_hello(captured["data"])


GO_SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x1301, 0x1302, 0x1303]


def test_ja4_of_the_recorded_hellos():
    go = recorded("go1.26-crypto-tls.bin")
    assert clienthello.ja4(go).startswith("t13d131100_f57a46bbacb6_"), clienthello.ja4(go)
    assert go["cipher_suites"] == GO_SUITES
    assert go["session_id_length"] == 32 and go["key_shares"] == [(0x001d, 32)]
    # mihomo and sing-box without a fingerprint: Go's suites and extensions, with the
    # X25519MLKEM768 key share of Go 1.24+ (1,216 bytes) in front of X25519.
    for name in ("mihomo-1.19.30.bin", "sing-box-1.14.1.bin"):
        hello = recorded(name)
        assert clienthello.ja4(hello) == "t13d131100_f57a46bbacb6_ab7e3b40a677", (name, clienthello.ja4(hello))
        assert hello["cipher_suites"] == GO_SUITES, name
        assert hello["key_shares"] == [(0x11ec, 1216), (0x001d, 32)], (name, hello["key_shares"])
    chrome = recorded("mihomo-1.19.30-chrome.bin")
    assert clienthello.ja4(chrome).startswith("t13d1516h2_8daaf6152771_"), clienthello.ja4(chrome)
    # The browsers of Debian 12 (docs/FINGERPRINT.md): uTLS's chrome has Chromium 156's suites
    # but one extension fewer; both browsers offer h2 first and the ML-KEM hybrid.
    chromium = recorded("chromium-156.bin")
    assert clienthello.ja4(chromium) == "t13d1517h2_8daaf6152771_ff1e8fc497ec", clienthello.ja4(chromium)
    firefox = recorded("firefox-esr-153.bin")
    assert clienthello.ja4(firefox) == "t13d1617h2_86a278354501_3cbfd9057e0d", clienthello.ja4(firefox)
    for browser in (chromium, firefox):
        assert browser["alpn"] == ["h2", "http/1.1"] and browser["session_id_length"] == 32
        assert (0x11ec, 1216) in browser["key_shares"] and (0x001d, 32) in browser["key_shares"]
    before = recorded("anytls-0.1.0-before-shaping.bin")
    assert clienthello.ja4(before) == "t13d270900_991e33d7eb74_92307cbe6e0f", clienthello.ja4(before)


def test_parser_refuses_what_is_not_a_client_hello():
    for data in (b"", b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", b"\x17\x03\x03\x00\x01\x00",
                 (DATA / "go1.26-crypto-tls.bin").read_bytes()[:100]):
        try:
            clienthello.parse_client_hello(data)
        except clienthello.ParseError:
            continue
        raise AssertionError(f"parsed {data!r}")


def test_our_hello_offers_what_go_offers():
    ours, go = our_hello(), recorded("go1.26-crypto-tls.bin")
    assert ours["cipher_suites"] == go["cipher_suites"], [hex(c) for c in ours["cipher_suites"]]
    assert ours["groups"] == go["groups"]
    assert ours["key_shares"] == go["key_shares"]
    assert 0x0016 not in ours["extensions"]  # encrypt_then_mac: Go never sends it
    # Every extension ours sends, Go sends too (renegotiation_info among them; no
    # psk_key_exchange_modes without a session to resume); Go's status_request, SCT and
    # signature_algorithms_cert are what ours lacks (docs/FINGERPRINT.md).
    assert set(ours["extensions"]) <= set(go["extensions"]), [hex(e) for e in ours["extensions"]]
    assert 0xff01 in ours["extensions"] and 0x002d not in ours["extensions"]
    assert set(go["extensions"]) - set(ours["extensions"]) == {0x0005, 0x0012, 0x0032}
    assert ours["session_id_length"] == go["session_id_length"] == 32  # middlebox compatibility
    assert ours["sni"] == "example.com"
    ja4_ours, ja4_go = clienthello.ja4(ours), clienthello.ja4(go)
    assert ja4_ours.split("_")[1] == ja4_go.split("_")[1], (ja4_ours, ja4_go)
    assert ja4_ours[:6] == ja4_go[:6], (ja4_ours, ja4_go)  # t13d13: TLS 1.3, SNI, 13 suites


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
