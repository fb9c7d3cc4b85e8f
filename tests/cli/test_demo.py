#!/usr/bin/env python3
"""End-to-end test of `anytls demo` (tools/anytls/cmd_demo.cpp).

Usage: test_demo.py PATH_TO_ANYTLS

Runs `anytls demo --duration 5` as the README's first command does (server, echo target and
pooled client on 127.0.0.1) and checks that it exits 0, that every stream was verified, that
the pool's debug lines were shown, and that its summary shows rotation (sessions closed by
age > 0) and warm against cold open latency. Also: bad --duration values exit 2, and
--config takes the pool settings of a file. Standard library only; plain asserts. Prints
"N passed, M failed" and exits non-zero when anything failed.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cli_runner import run_tests

# The binary: argv[1] when run as a script (tests/cli/meson.build), else $ANYTLS (pytest).
ANYTLS = sys.argv[1] if __name__ == "__main__" and len(sys.argv) > 1 else os.environ.get("ANYTLS", "anytls")


def demo(*args, timeout=300):
    return subprocess.run([ANYTLS, "demo", *args], capture_output=True, text=True, timeout=timeout)


def test_demo_for_5_seconds_exits_0_and_shows_rotation():
    result = demo("--duration", "5")
    out = result.stdout
    assert result.returncode == 0, (result.returncode, out[-3000:], result.stderr[-3000:])
    assert "Summary after" in out, out[-3000:]
    streams = re.search(r"streams\s+(\d+) opened, (\d+) verified, 0 failed", out)
    assert streams and int(streams.group(1)) > 0 and streams.group(1) == streams.group(2), out[-3000:]
    rotated = re.search(r"closed\s+by age (\d+)", out)
    assert rotated and int(rotated.group(1)) > 0, out[-3000:]
    assert "rotation   yes" in out, out[-3000:]
    assert re.search(r"open warm\s+(p50 [0-9.]+ ms|none)", out) and re.search(r"open cold\s+p50 [0-9.]+ ms", out)
    assert "[DEBUG] [AnyTLS] Proactive pool maintenance:" in out, out[:3000]
    assert "[DEBUG] [AnyTLS] Age cleanup:" in out or "reached its lifetime" in out, out[:3000]
    assert "scaled by" in out, out[:2000]  # the output says the durations were scaled
    assert "\x1b[" not in out  # not a terminal: no colour, no redraws
    assert re.search(r"\[\s*\d+\.\d+s\] idle \d+ busy \d+ creating \d+ \| rotated \d+", out)


def test_demo_takes_pool_settings_from_a_file():
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pool.toml"
        path.write_text("[experimental.anytls-session-management]\nensure-idle-session = 2\n"
                        "idle-session-check-interval = \"500ms\"\n")
        result = demo("--duration", "2s", "--config", str(path), "--seed", "7")
        assert result.returncode == 0, (result.returncode, result.stdout[-3000:], result.stderr[-3000:])
        assert "ensure 2, rate 0, lifetime off" in result.stdout, result.stdout[:2000]
        assert f"from {path}" in result.stdout


def test_bad_arguments_exit_2():
    for args, expected in [(("--duration", "0"), "--duration"), (("--duration", "soon"), "--duration"),
                           (("--proxy", "x"), "--config"), (("extra",), "unexpected argument")]:
        result = demo(*args, timeout=60)
        assert result.returncode == 2, (args, result.returncode, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
    result = demo("--config", "/nonexistent/anytls.toml", timeout=60)
    assert result.returncode == 3 and "/nonexistent/anytls.toml" in result.stderr, result.stderr


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
