#!/usr/bin/env python3
"""A TLS ClientHello taken apart, with its JA3 and JA4 strings (docs/FINGERPRINT.md).

Usage:
  clienthello.py parse FILE [FILE...]   one ClientHello per file (the raw TLS record bytes)
  clienthello.py capture [--port N] [--out FILE]
                                        listen on 127.0.0.1 (port 0: any; printed first as
                                        "listening on 127.0.0.1:PORT"), read the first
                                        ClientHello of one connection, close it, print it

For each hello: the JA4 and JA3 strings, then the fields they are made of (versions, cipher
suites, extensions in order, supported groups, key shares, signature algorithms, ALPN, session
id length, record size). GREASE values (RFC 8701) are left out of JA3/JA4 as both specify.
Standard library only; it never sends a byte to the client.
"""
import argparse
import hashlib
import socket
import struct
import sys

GREASE = {0x0a0a + 0x1010 * i for i in range(16)}
EXT_SNI, EXT_GROUPS, EXT_POINT_FORMATS, EXT_SIGALGS, EXT_ALPN = 0x0000, 0x000a, 0x000b, 0x000d, 0x0010
EXT_VERSIONS, EXT_KEY_SHARE = 0x002b, 0x0033


class ParseError(ValueError):
    pass


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise ParseError(f"truncated: wanted {n} bytes at offset {self.at}, have {len(self.data) - self.at}")
        piece = self.data[self.at:self.at + n]
        self.at += n
        return piece

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u24(self):
        return int.from_bytes(self.take(3), "big")

    def vector(self, length_size):
        n = {1: self.u8, 2: self.u16, 3: self.u24}[length_size]()
        return self.take(n)

    def done(self):
        return self.at >= len(self.data)


def u16_list(data):
    if len(data) % 2:
        raise ParseError("odd-length list of 16-bit values")
    return [struct.unpack(">H", data[i:i + 2])[0] for i in range(0, len(data), 2)]


def handshake_bytes(record_stream):
    """The handshake message bytes carried by the leading TLS records (a hello may span several)."""
    r, out = Reader(record_stream), b""
    while not r.done():
        content_type = r.u8()
        r.u16()  # record version
        fragment = r.vector(2)
        if content_type != 22:
            raise ParseError(f"record type {content_type}, not a handshake")
        out += fragment
        if len(out) >= 4 and len(out) >= 4 + int.from_bytes(out[1:4], "big"):
            break
    return out


def parse_client_hello(record_stream):
    hs = Reader(handshake_bytes(record_stream))
    if hs.u8() != 1:
        raise ParseError("not a ClientHello")
    body = Reader(hs.vector(3))
    hello = {"legacy_version": body.u16(), "random": body.take(32)}
    hello["session_id_length"] = len(body.vector(1))
    hello["cipher_suites"] = u16_list(body.vector(2))
    hello["compression"] = list(body.vector(1))
    hello["extensions"], hello["groups"], hello["key_shares"] = [], [], []
    hello["signature_algorithms"], hello["alpn"], hello["versions"], hello["point_formats"] = [], [], [], []
    hello["sni"] = None
    extensions = Reader(body.vector(2) if not body.done() else b"")
    while not extensions.done():
        kind, data = extensions.u16(), extensions.vector(2)
        hello["extensions"].append(kind)
        e = Reader(data)
        if kind == EXT_GROUPS:
            hello["groups"] = u16_list(e.vector(2))
        elif kind == EXT_SIGALGS:
            hello["signature_algorithms"] = u16_list(e.vector(2))
        elif kind == EXT_POINT_FORMATS:
            hello["point_formats"] = list(e.vector(1))
        elif kind == EXT_VERSIONS:
            hello["versions"] = u16_list(e.vector(1))
        elif kind == EXT_KEY_SHARE:
            shares = Reader(e.vector(2))
            while not shares.done():
                group = shares.u16()
                hello["key_shares"].append((group, len(shares.vector(2))))
        elif kind == EXT_ALPN:
            names = Reader(e.vector(2))
            while not names.done():
                hello["alpn"].append(names.vector(1).decode("ascii", "replace"))
        elif kind == EXT_SNI:
            names = Reader(e.vector(2))
            if not names.done():
                names.u8()
                hello["sni"] = names.vector(2).decode("ascii", "replace")
    hello["record_size"] = len(record_stream)
    return hello


def _no_grease(values):
    return [v for v in values if v not in GREASE]


def ja3(hello):
    fields = [str(hello["legacy_version"]),
              "-".join(str(c) for c in _no_grease(hello["cipher_suites"])),
              "-".join(str(e) for e in _no_grease(hello["extensions"])),
              "-".join(str(g) for g in _no_grease(hello["groups"])),
              "-".join(str(p) for p in hello["point_formats"])]
    text = ",".join(fields)
    return text, hashlib.md5(text.encode()).hexdigest()


def ja4(hello):
    """JA4 (FoxIO's specification): t<version><d|i><ciphers><extensions><alpn>_<hash>_<hash>."""
    versions = _no_grease(hello["versions"]) or [hello["legacy_version"]]
    top = max(versions)
    version = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}.get(top, "00")
    sni = "d" if hello["sni"] else "i"
    ciphers = _no_grease(hello["cipher_suites"])
    extensions = _no_grease(hello["extensions"])
    alpn = hello["alpn"][0] if hello["alpn"] else ""
    alpn_part = (alpn[0] + alpn[-1]) if alpn else "00"
    a = f"t{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{alpn_part}"

    def short_hash(text):
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"

    b = short_hash(",".join(f"{c:04x}" for c in sorted(ciphers)))
    listed = sorted(e for e in extensions if e not in (EXT_SNI, EXT_ALPN))
    c_text = ",".join(f"{e:04x}" for e in listed)
    sigalgs = ",".join(f"{s:04x}" for s in hello["signature_algorithms"])
    if sigalgs:
        c_text += "_" + sigalgs
    return f"{a}_{b}_{short_hash(c_text)}"


def describe(hello, name=""):
    text, digest = ja3(hello)
    hexes = lambda values: " ".join(f"{v:04x}" for v in values)
    lines = [f"== {name}" if name else "==",
             f"JA4  {ja4(hello)}",
             f"JA3  {digest}  ({text})",
             f"record bytes        {hello['record_size']}",
             f"session id bytes    {hello['session_id_length']}",
             f"versions            {hexes(hello['versions'])}",
             f"cipher suites ({len(hello['cipher_suites'])}) {hexes(hello['cipher_suites'])}",
             f"extensions ({len(hello['extensions'])})    {hexes(hello['extensions'])}",
             f"groups              {hexes(hello['groups'])}",
             f"key shares          {' '.join(f'{g:04x}({n} B)' for g, n in hello['key_shares'])}",
             f"signature algs ({len(hello['signature_algorithms'])}) {hexes(hello['signature_algorithms'])}",
             f"alpn                {','.join(hello['alpn']) or '-'}",
             f"sni                 {hello['sni'] or '-'}"]
    return "\n".join(lines)


def capture(port=0, timeout=30.0):
    """Accepts one connection on 127.0.0.1 and returns its ClientHello's record bytes."""
    with socket.create_server(("127.0.0.1", port)) as listener:
        print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
        listener.settimeout(timeout)
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(timeout)
            data = b""
            while True:
                try:
                    handshake_bytes(data)
                    parse_client_hello(data)
                    return data
                except ParseError:
                    chunk = connection.recv(65536)
                    if not chunk:
                        raise
                    data += chunk


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("parse")
    p.add_argument("files", nargs="+")
    c = sub.add_parser("capture")
    c.add_argument("--port", type=int, default=0)
    c.add_argument("--out")
    args = parser.parse_args()
    try:
        if args.command == "parse":
            for path in args.files:
                with open(path, "rb") as f:
                    print(describe(parse_client_hello(f.read()), path))
        else:
            data = capture(args.port)
            if args.out:
                with open(args.out, "wb") as f:
                    f.write(data)
            print(describe(parse_client_hello(data), "captured"))
    except (ParseError, OSError) as e:
        print(f"clienthello: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
