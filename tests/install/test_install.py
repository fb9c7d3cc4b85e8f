#!/usr/bin/env python3
"""The installed tree of libanytls works (tests/install/meson.build, README "Install").

Usage: test_install.py BUILD_DIR   ($MESON: the meson command, default "meson")

Runs `meson install -C BUILD_DIR --no-rebuild --destdir TMP`, then checks, under TMP:
- bin/anytls runs on its own: --help and --version (the project's version) exit 0;
- share/bash-completion/completions/anytls sources in a plain bash and its _anytls completes
  every command `anytls --help` lists, every option of every `anytls CMD --help`, and the
  fixed values of --socks-reply and --traffic;
- share/man/man1/anytls.1 is what the installed binary prints with --generate man, and
  `man -l` (man-db) and groff render it without a warning, with a section per command;
- lib/systemd/system/anytls-server.service names the installed binary, keeps its hardening,
  and passes `systemd-analyze verify` without a warning where systemd is installed (a machine
  without it says so and checks the rest); lib/sysusers.d/anytls.conf makes its group.
Standard library only; plain asserts.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_runner import run_tests  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
MESON = shlex.split(os.environ.get("MESON", "meson"))
# A plain environment: nothing from the build tree may be needed to run what was installed.
PLAIN_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C.UTF-8"}

destdir = tempfile.mkdtemp(prefix="anytls-install-")


def option(options, name):
    return next(o["value"] for o in options if o["name"] == name)


def installed_paths():
    options = json.loads(subprocess.run(MESON + ["introspect", BUILD, "--buildoptions"], capture_output=True,
                                        text=True, check=True).stdout)
    prefix = option(options, "prefix")

    def under(directory, *rest):
        path = os.path.join(prefix, option(options, directory), *rest)
        return destdir + os.path.abspath(path)  # prefix is absolute; directories may be too

    return {
        "anytls": under("bindir", "anytls"),
        "completion": under("datadir", "bash-completion", "completions", "anytls"),
        "man": under("mandir", "man1", "anytls.1"),
        "bindir": os.path.join(prefix, option(options, "bindir")),
        "unit": destdir + os.path.join(prefix, "lib", "systemd", "system", "anytls-server.service"),
        "sysusers": destdir + os.path.join(prefix, "lib", "sysusers.d", "anytls.conf"),
        "version": json.loads(subprocess.run(MESON + ["introspect", BUILD, "--projectinfo"], capture_output=True,
                                             text=True, check=True).stdout)["version"],
    }


def install():
    result = subprocess.run(MESON + ["install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", destdir],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return installed_paths()


PATHS = None


def paths():
    global PATHS
    if PATHS is None:
        PATHS = install()
    return PATHS


def anytls(*args):
    return subprocess.run([paths()["anytls"], *args], capture_output=True, text=True, timeout=60, env=PLAIN_ENV)


def complete(*words):
    """The words _anytls offers for the command line `words`, the last being completed."""
    script = (f"source {shlex.quote(paths()['completion'])}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
              "_anytls\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                            timeout=30, env=PLAIN_ENV)
    assert result.returncode == 0 and result.stderr == "", (words, result.stderr)
    return [line for line in result.stdout.splitlines() if line]


def listed_commands():
    section = anytls("--help").stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def test_installed_binary_runs_on_its_own():
    assert os.access(paths()["anytls"], os.X_OK), paths()["anytls"]
    result = anytls("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: anytls <command>"), result
    result = anytls("--version")
    assert result.returncode == 0 and paths()["version"] in result.stdout, result


def test_completion_offers_commands_options_and_values():
    assert complete("anytls", "so") == ["socks"]
    commands = listed_commands()
    assert {"demo", "plan", "server", "smoke", "socks", "version"} <= set(commands), commands
    assert set(commands) <= set(complete("anytls", "")), complete("anytls", "")
    for command in commands:
        help_text = anytls(command, "--help").stdout
        documented = set(re.findall(r"^  (?:-h, )?(--[a-z][a-z0-9-]*)", help_text.split("Options:\n", 1)[1],
                                    re.MULTILINE))
        offered = set(complete("anytls", command, "--"))
        assert documented == offered, (command, documented ^ offered)
    assert complete("anytls", "socks", "--socks-reply", "") == ["immediate", "after-synack"]
    assert complete("anytls", "plan", "--traffic", "st") == ["steady"]
    assert complete("anytls", "plan", "--traffic", "=", "b") == ["bursty"]  # --traffic=b
    assert complete("anytls", "help", "pl") == ["plan"]
    # A free value (a duration) gets no options offered in its place.
    assert complete("anytls", "plan", "--duration", "") == []


def test_completion_registers_for_the_command():
    script = f"source {shlex.quote(paths()['completion'])}; complete -p anytls"
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                            timeout=30, env=PLAIN_ENV)
    assert result.returncode == 0 and "-F _anytls" in result.stdout, result


def test_man_page_renders_without_warnings():
    with open(paths()["man"]) as f:
        page = f.read()
    assert page == anytls("--generate", "man").stdout, "the installed page is not the binary's own"
    assert shutil.which("man") and shutil.which("groff"), "man-db and groff-base are needed (tools/dev/install-deps)"
    env = dict(PLAIN_ENV, MANWIDTH="80")
    result = subprocess.run(["man", "--warnings", "-l", paths()["man"]], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = result.stdout
    assert text.startswith("ANYTLS(1)"), text[:200]
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS"):
        assert re.search(rf"^{heading}$", text, re.MULTILINE), heading
    for command in listed_commands():
        assert re.search(rf"^   anytls {command}$", text, re.MULTILINE), command
    assert "--socks-reply WHEN" in text and "Values: immediate, after-synack." in text
    strict = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", paths()["man"]], capture_output=True, text=True,
                            timeout=60, env=PLAIN_ENV)
    assert strict.returncode == 0 and strict.stderr == "", strict.stderr


def test_systemd_unit_is_hardened_and_verifies():
    with open(paths()["unit"]) as f:
        unit = f.read()
    binary = os.path.join(paths()["bindir"], "anytls")
    assert f"ExecStart={binary} server --config /etc/anytls/server.toml" in unit, unit
    assert f"ExecStartPre={binary} server --check --config /etc/anytls/server.toml" in unit, unit
    for line in ("DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID", "SupplementaryGroups=anytls"):
        assert re.search(rf"^{re.escape(line)}$", unit, re.MULTILINE), line
    with open(paths()["sysusers"]) as f:
        assert re.search(r"^g anytls -$", f.read(), re.MULTILINE)
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("note: systemd-analyze is not installed; the unit's text was checked, not verified")
        return
    # verify checks that ExecStart's program exists: point it at the installed copy.
    with tempfile.TemporaryDirectory() as units:
        copy = os.path.join(units, "anytls-server.service")
        with open(copy, "w") as f:
            f.write(unit.replace(binary, paths()["anytls"]))
        result = subprocess.run([analyze, "verify", "--man=no", copy], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result


if __name__ == "__main__":
    try:
        sys.exit(run_tests(globals()))
    finally:
        shutil.rmtree(destdir, ignore_errors=True)
