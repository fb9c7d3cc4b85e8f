#!/usr/bin/env python3
"""End-to-end tests of the `anytls` command-line tool (tools/anytls).

Usage: test_plan.py PATH_TO_ANYTLS

Runs the built binary as a user would and checks help texts, exit codes (0 ok, 1 runtime
failure, 2 usage error, 3 configuration error), one-sentence error messages, colour rules,
and `anytls plan` in its three output forms (timeline, --json, --svg) against the feature
description's examples in tests/data/. Standard library only; plain asserts. Prints
"N passed, M failed" and exits non-zero when anything failed.
"""
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from cli_runner import run_tests

ANYTLS = sys.argv[1] if len(sys.argv) > 1 else "anytls"
DATA = Path(__file__).resolve().parent.parent / "data"
EXAMPLE1 = str(DATA / "example1-high-availability.toml")
EXAMPLE2 = str(DATA / "example2-rate-limited.toml")
EXAMPLE4 = str(DATA / "example4-mixed.toml")

JSON_KEYS = ["t_s", "idle", "busy", "creating", "created", "closed_idle", "closed_age",
             "protected_idle", "protected_age"]
TIMELINE_ROW = re.compile(r"^\s+\S+\s+\d+\s+\d+\s+\d+ \|")

VALID_PROXY = """
[[proxies]]
name = "only"
type = "anytls"
server = "example.com"
port = 443
password = "secret"
"""


def run(*args, env=None):
    """Runs anytls with a clean environment (no colour); returns the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    if env:
        full_env.update(env)
    return subprocess.run([ANYTLS, *args], capture_output=True, text=True, env=full_env, timeout=60)


def assert_one_sentence(stderr, *must_contain):
    """An error is one line on stderr, prefixed by the program, naming what went wrong."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    line = lines[0]
    assert line.startswith("anytls"), line
    assert "Traceback" not in line and "terminate" not in line and "what()" not in line, line
    for text in must_contain:
        assert text in line, f"{text!r} not in {line!r}"


def command_names():
    result = run("--help")
    section = result.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def plan_json(*args):
    result = run("plan", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def duration_seconds(text):
    """Seconds of a duration as anytls prints it: "1h31m30s", "2h25m", "500ms"."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    return sum(float(number) * units[unit] for number, unit in parts)


def write_config(directory, text):
    path = Path(directory) / "config.toml"
    path.write_text(text)
    return str(path)


# --- help and usage -----------------------------------------------------------------------

def test_main_help_lists_commands_and_exit_codes():
    for args in (["--help"], ["-h"], ["help"]):
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage: anytls <command>" in result.stdout
        assert "Exit codes:" in result.stdout
        assert result.stderr == ""
    names = command_names()
    assert "plan" in names and "version" in names, names


def test_every_command_help_exits_0():
    for name in command_names():
        for args in ([name, "--help"], [name, "-h"], ["help", name], [name, "--no-such-option", "--help"]):
            result = run(*args)
            assert result.returncode == 0, (args, result.returncode, result.stderr)
            assert result.stdout.startswith(f"Usage: anytls {name}"), (args, result.stdout[:80])
            assert "Options:" in result.stdout and "Exit codes:" in result.stdout, args
            for code in ("0", "1", "2", "3"):
                assert re.search(rf"^\s+{code}\s+\S", result.stdout, re.M), (args, code)
            assert result.stderr == "", (args, result.stderr)


def test_plan_help_documents_options():
    out = run("plan", "--help").stdout
    for option in ("--config", "--proxy", "--duration", "--traffic", "--rate", "--seed", "--svg", "--json",
                   "--every"):
        assert option in out, option


OUTAGE_CONFIG = """
[experimental.anytls-session-management]
ensure-idle-session = 1
idle-session-check-interval = "10s"
creation-backoff-max = "1m"

[[proxies]]
name = "one"
type = "anytls"
server = "example.com"
port = 443
password = "secret"
"""


def test_plan_outage_shows_failures_backoff_and_recovery():
    assert "--outage START+DURATION" in run("plan", "--help").stdout
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "outage.toml")
        with open(config, "w") as f:
            f.write(OUTAGE_CONFIG)
        args = ["--config", config, "--duration", "20m", "--outage", "10m+5m"]
        records = plan_json(*args)
        down = [r for r in records if r["server_down"]]
        assert down and down[0]["t_s"] == 600 and down[-1]["t_s"] == 890, (down[0], down[-1])
        assert sum(r["creation_failures"] for r in records) >= 8
        holdbacks = [r["backoff_s"] for r in records if r["creation_failures"] > 0]
        assert holdbacks[:7] == [1, 2, 4, 8, 16, 32, 60], holdbacks
        assert max(r["backoff_s"] for r in records) == 60  # creation-backoff-max
        after = [r for r in records if r["t_s"] >= 900]
        recovered = next(r for r in after if r["idle"] == 1 and r["consecutive_failures"] == 0)
        assert recovered["t_s"] <= 900 + 80, recovered
        assert records[-1]["idle"] == 1 and records[-1]["backoff_s"] == 0
        # Without --outage nothing fails.
        quiet = plan_json("--config", config, "--duration", "20m")
        assert all(r["creation_failures"] == 0 and not r["server_down"] for r in quiet)

        text = run("plan", *args)
        assert text.returncode == 0, text.stderr
        assert "Outage: the server is down from 10m to 15m (creation-backoff-max 1m)" in text.stdout
        assert "the longest hold-back was 1m" in text.stdout
        recovered_line = r"recovered at \d+m\d*s?: creations succeed again"
        assert re.search(recovered_line, text.stdout), text.stdout
        assert "server down" in text.stdout

        svg = os.path.join(tmp, "outage.svg")
        assert run("plan", *args, "--svg", svg).returncode == 0
        with open(svg) as f:
            assert "server down from 10m for 5m" in f.read()

        # Repeated: two outages, two sections.
        twice = run("plan", *args, "--outage", "17m+1m")
        assert twice.returncode == 0, twice.stderr
        assert twice.stdout.count("Outage: the server is down") == 2

    for bad, why in (("10m", "no '+'"), ("x+5m", "start"), ("1m+0s", "duration"),
                     ("30m+1m", "after the end")):
        result = run("plan", "--config", EXAMPLE2, "--duration", "20m", "--outage", bad)
        assert result.returncode == 2, (bad, result.returncode)
        assert_one_sentence(result.stderr, "--outage", why)


def test_unknown_command_is_usage_error():
    result = run("no-such-command")
    assert result.returncode == 2, result.returncode
    assert result.stdout == ""
    assert_one_sentence(result.stderr, "unknown command", "no-such-command")
    result = run("pln")
    assert result.returncode == 2
    assert_one_sentence(result.stderr, "did you mean", "plan")
    result = run("help", "no-such-command")
    assert result.returncode == 2
    assert_one_sentence(result.stderr, "no-such-command")


def test_no_command_is_usage_error():
    result = run()
    assert result.returncode == 2
    assert "Usage: anytls" in result.stderr


def test_usage_errors_exit_2_with_one_sentence():
    cases = [
        (["plan", "--bogus"], "--bogus"),
        (["plan", "--duration", "1h"], "--config"),
        (["plan", "--config", EXAMPLE2], "--duration"),
        (["plan", "--config", EXAMPLE2, "--duration", "soon"], "--duration"),
        (["plan", "--config", EXAMPLE2, "--duration", "10s"], "idle-session-check-interval"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--traffic", "storm"], "--traffic"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--seed", "x"], "--seed"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--rate", "-1"], "--rate"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--every", "0"], "--every"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--max-steps", "0"], "--max-steps"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--max-steps", "many"], "--max-steps"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "--progress", "--log"], "--progress"),
        (["plan", "--config", EXAMPLE2, "--duration", "1h", "stray"], "stray"),
        (["version", "--json=yes"], "--json"),
        (["--bogus"], "--bogus"),
    ]
    for args, named in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.returncode, result.stderr)
        assert_one_sentence(result.stderr, named)


def test_proxy_choice():
    # Several proxies and no --proxy: a usage error that lists the names.
    result = run("plan", "--config", EXAMPLE4, "--duration", "10m")
    assert result.returncode == 2, result.returncode
    assert_one_sentence(result.stderr, '"standard-1"', '"premium-node"', '"limited-node"')
    result = run("plan", "--config", EXAMPLE4, "--proxy", "nope", "--duration", "10m")
    assert result.returncode == 2
    assert_one_sentence(result.stderr, "nope", '"premium-node"')
    # Named: the override applies (premium-node: ensure 20, rate 5 -> 5 creations per cycle).
    records = plan_json("--config", EXAMPLE4, "--proxy", "premium-node", "--duration", "5m")
    assert [r["created"] for r in records[:4]] == [5, 5, 5, 5], records[:4]


# --- version --------------------------------------------------------------------------------

def test_version():
    result = run("version")
    assert result.returncode == 0, result.stderr
    assert re.match(r"anytls \d+\.\d+\.\d+\n", result.stdout), result.stdout
    assert "wolfSSL" in result.stdout and "compiler" in result.stdout
    assert run("--version").stdout == result.stdout
    facts = json.loads(run("version", "--json").stdout)
    assert result.stdout.startswith(f"anytls {facts['version']}\n")


# --- plan -------------------------------------------------------------------------------------

def test_plan_json_rate_limited_example():
    """Example 2: one new session per 1-minute cycle, the target of 5 reached after 5 minutes."""
    records = plan_json("--config", EXAMPLE2, "--duration", "10m", "--traffic", "idle")
    assert len(records) == 11, len(records)  # the cycle at start, then one a minute
    for i, record in enumerate(records):
        for key in JSON_KEYS:
            assert key in record, (key, record)
        assert list(record)[:len(JSON_KEYS)] == JSON_KEYS, list(record)
        assert record["t_s"] == 60 * i, record
    reached = next(i for i, r in enumerate(records) if r["idle"] >= 5)
    # Exactly one creation per cycle until 5 sessions are idle, none afterwards.
    assert [r["created"] for r in records[:reached]] == [1] * reached, records
    assert all(r["created"] == 0 for r in records[reached:]), records
    assert reached == 5, reached  # the 5th creation starts at 4m and is idle by the 5m cycle
    assert [r["idle"] for r in records] == [0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5], records
    # In-flight creations count: the pool never overshoots its target.
    assert all(r["idle"] + r["creating"] <= 5 for r in records), records
    assert all(r["closed_idle"] == 0 and r["closed_age"] == 0 for r in records), records
    # The target is a floor for idle cleanup: the timed-out sessions are protected, not closed.
    assert records[-1]["protected_idle"] == 5, records[-1]


def test_plan_default_traffic_is_idle_and_single_proxy_is_chosen():
    assert plan_json("--config", EXAMPLE2, "--duration", "10m") == \
        plan_json("--config", EXAMPLE2, "--proxy", "rate-limited", "--duration", "10m", "--traffic", "idle")


def test_plan_seed_repeatable():
    base = ["--config", EXAMPLE1, "--duration", "3h", "--traffic", "steady", "--rate", "0.5"]
    first = run("plan", "--json", *base, "--seed", "7")
    second = run("plan", "--json", *base, "--seed", "7")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert run("plan", *base, "--seed", "7").stdout == run("plan", *base, "--seed", "7").stdout
    others = [run("plan", "--json", *base, "--seed", str(seed)).stdout for seed in (8, 9, 10)]
    assert any(other != first.stdout for other in others), "three other seeds gave the same run"
    # Something actually happened: streams arrived and sessions turned over.
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert sum(r["streams"] for r in records) > 1000
    assert sum(r["closed_idle"] for r in records) > 0


def test_plan_bursty():
    records = plan_json("--config", EXAMPLE1, "--duration", "6h", "--traffic", "bursty", "--burst-size", "30",
                        "--burst-every", "10m")
    assert len(records) == 721  # the cycle at start, then one every 30 s
    assert sum(r["streams"] for r in records) == 30 * 36  # the first burst one period in
    assert max(r["busy"] for r in records) >= 20


def test_plan_rotation_example1():
    """Example 1: 10 ready sessions, rotated after 1.5-2.5 h (2h +/- 30m jitter)."""
    records = plan_json("--config", EXAMPLE1, "--duration", "6h")
    assert sum(r["closed_age"] for r in records) >= 10, "no rotation within 6 h"
    assert sum(r["closed_idle"] for r in records) == 0  # the target protects them from idle cleanup
    assert all(r["idle"] + r["creating"] == 10 for r in records[1:]), "pool left its target"
    out = run("plan", "--config", EXAMPLE1, "--duration", "6h").stdout
    match = re.search(r"aged-out lifetimes\s+(\S+) \.\. (\S+)", out)
    assert match, out
    shortest, longest = (duration_seconds(text) for text in match.groups())
    assert 90 * 60 <= shortest <= longest <= 150 * 60, match.groups()


def test_plan_text_timeline():
    result = run("plan", "--config", EXAMPLE2, "--duration", "10m")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out, "colour in piped output"
    rows = [line for line in out.splitlines() if TIMELINE_ROW.match(line)]
    assert len(rows) == 11, rows
    assert rows[0].split()[0] == "0s" and rows[-1].split()[0] == "10m", rows
    assert "Summary" in out and "sessions created        5" in out, out
    assert "ensure-idle-session" in out and "[experimental.anytls-session-management]" in out
    # --every groups cycles.
    rows = [line for line in run("plan", "--config", EXAMPLE2, "--duration", "10m", "--every", "2").stdout
            .splitlines() if TIMELINE_ROW.match(line)]
    assert len(rows) == 6, rows
    # Long runs stay within about 60 timeline lines by default (6 h at 30 s = 720 cycles).
    out = run("plan", "--config", EXAMPLE1, "--duration", "6h", "--rate", "0.2").stdout
    rows = [line for line in out.splitlines() if TIMELINE_ROW.match(line)]
    assert 30 <= len(rows) <= 60, len(rows)
    assert "waited for a handshake" in out


def test_plan_config_errors_exit_3_and_name_the_key():
    with tempfile.TemporaryDirectory() as directory:
        bad_value = write_config(directory, "[experimental.anytls-session-management]\n"
                                            "ensure-idle-session = -3\n" + VALID_PROXY)
        result = run("plan", "--config", bad_value, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert result.stdout == ""
        assert_one_sentence(result.stderr, "ensure-idle-session", "-3", bad_value)

        typo = write_config(directory, VALID_PROXY + "[proxies.session-override]\nmin-idle-sesion = 2\n")
        result = run("plan", "--config", typo, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, "min-idle-sesion", "min-idle-session")

        jitter = write_config(directory, "[experimental.anytls-session-management]\n"
                                         "max-connection-lifetime = \"20m\"\n"
                                         "connection-lifetime-jitter = \"30m\"\n" + VALID_PROXY)
        result = run("plan", "--config", jitter, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, "connection-lifetime-jitter")

        syntax = write_config(directory, "[[proxies]\nname = \n")
        result = run("plan", "--config", syntax, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr)

        no_proxy = write_config(directory, "log-level = \"info\"\n")
        result = run("plan", "--config", no_proxy, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, "proxy")

        missing = str(Path(directory) / "missing.toml")
        result = run("plan", "--config", missing, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, missing)


def test_plan_checks_files_and_size_with_the_cause():
    """plan never connects, but a ca-file that cannot be used, a directory given as the
    configuration and an oversized file are still errors (exit 3) that name the cause."""
    with tempfile.TemporaryDirectory() as directory:
        # ca-file on line 8 of VALID_PROXY + ca-file.
        missing_ca = write_config(directory, VALID_PROXY + 'ca-file = "/nonexistent/ca.pem"\n')
        result = run("plan", "--config", missing_ca, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, missing_ca, 'proxy "only": key "ca-file" (line 8): ',
                            'cannot read "/nonexistent/ca.pem": No such file or directory')
        assert "unknown error number" not in result.stderr

        not_pem = Path(directory) / "ca.pem"
        not_pem.write_text("not a certificate\n")
        bad_ca = write_config(directory, VALID_PROXY + f'ca-file = "{not_pem}"\n')
        result = run("plan", "--config", bad_ca, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, 'key "ca-file" (line 8): ', f'"{not_pem}" holds no valid PEM CA certificate')

        result = run("plan", "--config", directory, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, f'cannot read configuration file "{directory}": Is a directory')

        # A 2 MB password: refused before it is parsed.
        big = write_config(directory, VALID_PROXY.replace('"secret"', '"' + "x" * 2_000_000 + '"'))
        result = run("plan", "--config", big, "--duration", "1h")
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, big, "larger than 1 MiB (1048576 bytes), the limit of a configuration")


SVG = "{http://www.w3.org/2000/svg}"
CLOSED_TITLE = re.compile(r": (\d+) closed as idle, (\d+) for age or at a stream's end$")


def path_segments(d):
    """The H (horizontal) segments of a path's d attribute: one per column edge."""
    return re.findall(r"H(-?[\d.]+)", d)


def test_plan_svg():
    """The chart gathers cycles into columns, never more than the plot has pixels, and shows
    closures as bars on a common scale: 24 h of 30 s cycles is 2881 cycles on a 960 px chart."""
    with tempfile.TemporaryDirectory() as directory:
        svg = Path(directory) / "plan.svg"
        args = ["--config", EXAMPLE1, "--duration", "24h", "--rate", "0.3", "--svg", str(svg)]
        result = run("plan", *args)
        assert result.returncode == 0, result.stderr
        root = ElementTree.parse(svg).getroot()
        assert root.tag == SVG + "svg", root.tag
        width = float(root.get("width"))

        # No drawn shape has more points than the chart has pixel columns.
        for element in root.iter():
            points = element.get("points")
            if points is not None:
                assert len(points.split()) <= width, (element.tag, len(points.split()))
            if element.tag == SVG + "path":
                assert len(path_segments(element.get("d"))) <= width, len(path_segments(element.get("d")))
        areas = [p for p in root.iter(SVG + "path") if p.get("fill") != "none"]
        names = [p.find(SVG + "title").text.split(":")[0] for p in areas]
        assert names == ["idle", "creating", "busy"], names
        peak = next(p for p in root.iter(SVG + "path") if p.get("fill") == "none")
        columns = len(path_segments(peak.get("d")))
        assert 240 <= columns <= width / 2, columns  # aggregated, yet still a column per few pixels
        for area in areas:
            assert len(path_segments(area.get("d"))) == 2 * columns  # along the tops, back along the bases

        # Closures: at most one bar per column; the bars add up to every closure of the run, and
        # share one scale (pixels per closure), the one their y-axis is labelled in.
        records = plan_json(*args)
        bars = [g for g in root.iter(SVG + "g") if g.find(SVG + "title") is not None
                and CLOSED_TITLE.search(g.find(SVG + "title").text)]
        assert 0 < len(bars) <= columns, len(bars)
        closed_idle = closed_age = 0
        scales = []
        for bar in bars:
            idle, age = (int(n) for n in CLOSED_TITLE.search(bar.find(SVG + "title").text).groups())
            closed_idle += idle
            closed_age += age
            for rect in bar.findall(SVG + "rect"):
                count = idle if rect.get("fill") == "#e07b00" else age
                scales.append(float(rect.get("height")) / count)
        assert closed_idle == sum(r["closed_idle"] for r in records) > 0
        assert closed_age == sum(r["closed_age"] + r["closed_at_stream_end"] for r in records)
        assert max(scales) - min(scales) < 0.2, (min(scales), max(scales))
        assert root.find(f".//{SVG}text[.='sessions closed per column (4m)']") is not None  # 8 cycles a column

        # With --json, stdout stays pure JSON lines and the SVG is still written; a proxy name
        # that needs escaping still gives well-formed XML.
        escaped = write_config(directory, VALID_PROXY.replace('"only"', '"a<b & \\"c\\""'))
        svg2 = Path(directory) / "plan2.svg"
        result = run("plan", "--config", escaped, "--duration", "30m", "--json", "--svg", str(svg2))
        assert result.returncode == 0, result.stderr
        assert all(json.loads(line) for line in result.stdout.splitlines())
        title = ElementTree.parse(svg2).getroot().find(f"{SVG}title").text
        assert 'a<b & "c"' in title, title

        # An SVG that cannot be written is a runtime failure.
        result = run("plan", "--config", EXAMPLE2, "--duration", "10m", "--svg", str(Path(directory) / "no" / "x.svg"))
        assert result.returncode == 1, (result.returncode, result.stderr)
        assert_one_sentence(result.stderr, "x.svg")


# --- plan: work bound and progress ------------------------------------------------------------

PROGRESS_END = re.compile(r"^anytls plan: simulated (\S+) in (\d+) cycles, (\d+) simulation steps, in [\d.]+ s$")


def test_plan_huge_duration_is_refused_at_once():
    """8000 h of 100 streams/s is billions of steps: refused before simulating, naming the options."""
    started = time.monotonic()
    result = run("plan", "--config", EXAMPLE1, "--duration", "8000h", "--rate", "100")
    elapsed = time.monotonic() - started
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert_one_sentence(result.stderr, "--duration 8000h", "--max-steps 50000000", "simulation steps")
    assert elapsed < 5, elapsed


def test_plan_max_steps_is_checked_against_the_real_work():
    """The bound counts the work actually done, not an estimate of it: a run of exactly N steps
    passes --max-steps N and is stopped by --max-steps N-1, at the point it passed the limit."""
    args = ["plan", "--config", EXAMPLE1, "--duration", "2h", "--rate", "2", "--json"]
    result = run(*args, "--progress")
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    match = PROGRESS_END.match(last)
    assert match, result.stderr
    steps = int(match.group(3))
    assert steps > 2 * 2 * 7200, steps  # an arrival and a take (or handshake) per stream, at least
    assert run(*args, "--max-steps", str(steps)).stdout == result.stdout
    stopped = run(*args, "--max-steps", str(steps - 1))
    assert stopped.returncode == 2, (stopped.returncode, stopped.stderr)
    assert stopped.stdout == ""
    assert_one_sentence(stopped.stderr, "stopped at 2h of --duration 2h", f"--max-steps {steps - 1}")

    # Idle traffic is estimated at one step per cycle, but each cycle examines the 10 idle
    # sessions too: the real count stops the run part-way, long before 8000 h.
    started = time.monotonic()
    stopped = run("plan", "--config", EXAMPLE1, "--duration", "8000h", "--max-steps", "2000000")
    assert time.monotonic() - started < 10
    assert stopped.returncode == 2, (stopped.returncode, stopped.stderr)
    assert_one_sentence(stopped.stderr, "stopped at", "of --duration 8000h", "--max-steps 2000000")
    when = duration_seconds(re.search(r"stopped at (\S+) of", stopped.stderr).group(1))
    assert 0 < when < 8000 * 3600 / 2, when


def test_plan_progress_only_when_forced_off_a_terminal():
    args = ["plan", "--config", EXAMPLE1, "--duration", "6h", "--rate", "0.3"]
    plain = run(*args)
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    forced = run(*args, "--progress")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == plain.stdout  # the progress never reaches stdout
    lines = forced.stderr.splitlines()
    assert "\r" not in forced.stderr and "\x1b" not in forced.stderr, forced.stderr
    assert lines[0].startswith("anytls plan: simulated 0s of 6h (0%)"), lines
    assert PROGRESS_END.match(lines[-1]) and lines[-1].startswith("anytls plan: simulated 6h in 721 cycles"), lines


def run_with_stderr_on_terminal(*args):
    """Runs anytls with stderr on a pseudo-terminal; returns (stdout, what reached the terminal, seconds)."""
    env = dict(os.environ, TERM="xterm")
    controller, terminal = pty.openpty()
    started = time.monotonic()
    try:
        process = subprocess.Popen([ANYTLS, *args], stdout=subprocess.PIPE, stderr=terminal, env=env)
        os.close(terminal)
        terminal = -1
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            output += chunk
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=120) == 0
        return stdout, output.decode(), time.monotonic() - started
    finally:
        process.stdout.close()
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)


def test_plan_progress_on_a_terminal_after_two_seconds():
    # A run of milliseconds says nothing.
    _, shown, _ = run_with_stderr_on_terminal("plan", "--config", EXAMPLE2, "--duration", "10m")
    assert shown == "", repr(shown)
    # A run of seconds (360,000 sessions alive at once) redraws one line in place, then erases it.
    stdout, shown, seconds = run_with_stderr_on_terminal(
        "plan", "--config", EXAMPLE1, "--duration", "12h", "--rate", "100", "--stream-duration", "1h")
    assert seconds > 2.5, f"the run took {seconds:.1f} s, too little to test the delay: lengthen it"
    assert "Summary" in stdout
    redraws = shown.split("\r\x1b[K")
    assert redraws[0] == "" and redraws[-1] == "", repr(shown[:200])  # drawn in place, erased at the end
    lines = [text for text in redraws if text]
    assert lines and all(text.startswith("anytls plan: simulated ") and "\n" not in text for text in lines), lines
    assert "of 12h" in lines[-1], lines
    first = int(re.search(r"\((\d+)%\)", lines[0]).group(1))
    assert first > 0, lines[0]  # nothing in the first two seconds


def run_on_terminal(*args, env=None):
    """Runs anytls with stdout on a pseudo-terminal; returns what it printed there."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env["TERM"] = "xterm"
    if env:
        full_env.update(env)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([ANYTLS, *args], stdout=terminal, stderr=subprocess.DEVNULL, env=full_env)
        os.close(terminal)
        terminal = -1
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
        return output.decode()
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)


def test_colour_only_on_a_terminal_without_no_color():
    args = ["plan", "--config", EXAMPLE2, "--duration", "10m"]
    assert "\x1b[" in run_on_terminal(*args)
    assert "\x1b[" not in run_on_terminal(*args, env={"NO_COLOR": "1"})
    assert "\x1b[" not in run(*args).stdout


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
