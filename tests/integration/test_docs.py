"""tests/integration/test_docs.py: the man pages describe what exists.

Fails when a configuration key (from common/conf_schema.c's table, or a
fixed list while that file is absent) is missing from asgimaster.yaml(5) or
from conf/server.yaml, when a key's default in the schema is not the one the
page gives, when a flag that `asgimaster --help` prints is missing from
asgimaster(8) or README.md, and when `mandoc -Tlint -Wwarning` says anything
about the pages (STYLE.md section 13).
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAN8 = ROOT / "man" / "asgimaster.8"
MAN5 = ROOT / "man" / "asgimaster.yaml.5"
SCHEMA = ROOT / "common" / "conf_schema.c"
EXAMPLE = ROOT / "conf" / "server.yaml"
README = ROOT / "README.md"
BIN = Path(os.environ.get("ASGIMASTER_BIN", str(ROOT / "asgimaster")))

# The keys of the team brief, used only when the schema table is absent.
FALLBACK_KEYS = [
    "app", "factory", "chdir", "pythonpath", "virtualenv", "env", "workers",
    "lifespan", "root_path", "server_header",
    "listen", "listen.address", "listen.backlog", "listen.mode",
    "log", "log.level", "log.error_log", "log.access_log",
    "log.access_format",
    "limits", "limits.request_line", "limits.header_size",
    "limits.header_count", "limits.body_size", "limits.body_buffer",
    "limits.write_buffer", "limits.connections",
    "timeouts", "timeouts.keepalive", "timeouts.header_read",
    "timeouts.body_read", "timeouts.write", "timeouts.graceful",
    "timeouts.boot",
]

# The flags of the team brief: always checked, --help adds what it prints.
BRIEF_FLAGS = [
    "-c", "-t", "-b", "--bind", "-w", "--workers", "--chdir", "--log-level",
    "--access-log", "--factory", "--lifespan", "--root-path", "-v",
    "--version", "-h", "--help",
]

FLAG_RE = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def schema_rows():
    """[(name, default or None)] from the schema table, or None if absent.

    A row is `{ "name", kinds, type, offset, min, max, dflt, reloadable }`;
    it may span lines and its fields hold no commas.
    """
    if not SCHEMA.exists():
        return None
    text = re.sub(r"/\*.*?\*/", "", SCHEMA.read_text(), flags=re.S)
    start = text.find("am_conf_keys[]")
    if start == -1:
        return None
    rows = []
    for body in re.findall(r"\{\s*(\"[^{}]*?)\}", text[start:]):
        fields = [f.strip() for f in body.split(",") if f.strip()]
        name = fields[0].strip('"')
        dflt = None
        if len(fields) >= 8 and fields[6].startswith('"'):
            dflt = fields[6][1:-1]
        rows.append((name, dflt))
    return rows or None


def config_keys():
    rows = schema_rows()
    if rows is None:
        return [(k, None) for k in FALLBACK_KEYS]
    return rows


def man5_entry(leaf):
    """The source of the `.It Ic leaf` entry up to the next item, or None."""
    lines = MAN5.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\.It Ic %s(\s|$)" % re.escape(leaf), line):
            block = []
            for nxt in lines[i + 1:]:
                if nxt.startswith((".It ", ".Sh ", ".El")):
                    break
                block.append(nxt)
            return "\n".join(block)
    return None


def test_schema_or_fallback_is_complete():
    """The schema (if present) has at least the keys of the brief."""
    names = {name for name, _ in config_keys()}
    missing = sorted(set(FALLBACK_KEYS) - names)
    assert not missing, f"keys of the brief not in {SCHEMA.name}: {missing}"


def test_every_key_is_in_the_man_page():
    text = MAN5.read_text()
    missing = []
    for name, _ in config_keys():
        leaf = name.rsplit(".", 1)[-1]
        if name in ("log", "limits", "timeouts"):
            found = re.search(r"\bIc %s\b" % re.escape(leaf), text)
        else:
            found = man5_entry(leaf) is not None
        if not found:
            missing.append(name)
    assert not missing, f"keys missing from {MAN5.name}: {missing}"


def test_every_default_is_in_the_man_page():
    wrong = []
    for name, dflt in config_keys():
        if dflt is None:
            continue
        entry = man5_entry(name.rsplit(".", 1)[-1])
        if entry is None:
            continue  # reported by test_every_key_is_in_the_man_page
        after = entry.split("Default", 1)
        if len(after) != 2:
            wrong.append(f"{name}: no Default")
            continue
        want = "empty" if dflt == "" else dflt
        if not re.search(r"(?<![\w.])%s(?![\w])" % re.escape(want), after[1]):
            wrong.append(f"{name}: default {dflt!r} not stated")
    assert not wrong, f"{MAN5.name}: {wrong}"


def test_every_key_is_in_the_example_config():
    text = EXAMPLE.read_text()
    missing = [
        name for name, _ in config_keys()
        if not re.search(r"^[\s#-]*%s:" % re.escape(name.rsplit(".", 1)[-1]),
                         text, flags=re.M)
    ]
    assert not missing, f"keys missing from {EXAMPLE}: {missing}"


def rendered_man8():
    """asgimaster(8) as text, so `Fl \\-bind` reads as `--bind`."""
    if shutil.which("mandoc"):
        out = subprocess.run(
            ["mandoc", "-Tascii", str(MAN8)], capture_output=True,
            text=True, timeout=30, check=True,
        ).stdout
        return re.sub(r".\x08", "", out)
    src = MAN8.read_text().replace("\\-", "-")
    return re.sub(r"\bFl ", "-", src)


def help_flags():
    if not BIN.exists() or not os.access(BIN, os.X_OK):
        pytest.skip(f"no asgimaster binary at {BIN}")
    r = subprocess.run([str(BIN), "--help"], capture_output=True, text=True,
                       timeout=30)
    flags = set(FLAG_RE.findall(r.stdout + r.stderr))
    assert flags, f"`asgimaster --help` printed no flags:\n{r.stdout}{r.stderr}"
    return flags


def missing_flags(flags, text):
    return sorted(
        f for f in flags
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(f), text)
    )


def test_brief_flags_are_in_the_man_page():
    missing = missing_flags(BRIEF_FLAGS, rendered_man8())
    assert not missing, f"flags missing from {MAN8.name}: {missing}"


def test_help_flags_are_in_the_man_page():
    missing = missing_flags(help_flags(), rendered_man8())
    assert not missing, f"flags of --help missing from {MAN8.name}: {missing}"


def test_help_flags_are_in_the_readme():
    missing = missing_flags(help_flags(), README.read_text())
    assert not missing, f"flags of --help missing from README.md: {missing}"


def test_mandoc_lint_is_silent():
    if not shutil.which("mandoc"):
        pytest.skip("mandoc is not installed")
    r = subprocess.run(
        ["mandoc", "-Tlint", "-Wwarning", str(MAN8), str(MAN5)],
        capture_output=True, text=True, timeout=30,
    )
    out = (r.stdout + r.stderr).strip()
    assert out == "" and r.returncode == 0, out
