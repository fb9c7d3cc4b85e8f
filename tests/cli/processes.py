"""Starting and stopping the `anytls` processes the Python tests run (tests/cli and
tests/round_trips), and reading an exact count of bytes from a socket.

Standard library only, so the script-style CLI tests can use it too.
"""

import signal
import subprocess
import threading
import time

START_TIMEOUT = 60  # generous: a loaded 2-core machine, sanitizer builds


def start_process(args, ready_prefix, timeout=START_TIMEOUT):
    """Starts args; returns (process, stdout lines up to the one starting with ready_prefix).

    The process's stderr lines keep arriving in process.stderr_lines; stdout after the ready
    line is read and dropped, so the process never blocks on a full pipe."""
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    stderr_lines = []
    threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True).start()
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(ready_prefix):
            threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
            process.stderr_lines = stderr_lines
            return process, lines
    process.kill()
    process.wait()
    raise AssertionError(f"{args[:2]} did not print {ready_prefix!r}: stdout {lines!r}, stderr {stderr_lines!r}")


def stop_process(process, expect_success=True, timeout=START_TIMEOUT):
    """SIGTERM, then waits; kills it if it does not exit in time. With expect_success, a
    non-zero exit status fails the test."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=timeout)
        if expect_success:
            tail = getattr(process, "stderr_lines", [])[-5:]
            assert status == 0, f"{process.args[:2]} exited with {status}; stderr ends {tail!r}"
    except subprocess.TimeoutExpired:
        if expect_success:
            raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def recv_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data
