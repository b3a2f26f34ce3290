"""scripts/check-layering.py on small trees: it passes a layered tree and
fails, naming the files, on an include cycle between units, on master/ or
common/ including a worker/ header or <Python.h>, and on a worker/ file
other than asgi*.c / pyembed.c including <Python.h>.
SPDX-License-Identifier: BSD-2-Clause
"""

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / \
    "check-layering.py"


def tree(tmp_path, files):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)],
                          capture_output=True, text=True, timeout=30)


LAYERED = {
    "common/core.h": "#include <stddef.h>\n",
    "common/log.h": '#include "common/core.h"\n',
    "common/log.c": '#include "common/log.h"\n#include "common/core.h"\n',
    "worker/asgi.c": '#include <Python.h>\n#include "common/log.h"\n',
    "worker/pyembed.c": "#include <Python.h>\n",
    "master/main.c": '#include "common/log.h"\n',
}


def test_layered_tree_passes(tmp_path):
    r = tree(tmp_path, LAYERED)
    assert r.returncode == 0, r.stdout
    assert "layering: ok" in r.stdout


def test_cycle_between_units_fails(tmp_path):
    files = dict(LAYERED)
    # a.c includes b.h, b.c includes a.h: a cycle of units a and b
    files["common/a.h"] = "\n"
    files["common/a.c"] = '#include "common/b.h"\n'
    files["common/b.h"] = "\n"
    files["common/b.c"] = '#include "common/a.h"\n'
    r = tree(tmp_path, files)
    assert r.returncode == 1
    assert "include cycle in common/ among 2 units" in r.stdout
    assert 'common/a.c includes "common/b.h"' in r.stdout
    assert 'common/b.c includes "common/a.h"' in r.stdout


def test_worker_cycle_fails(tmp_path):
    files = dict(LAYERED)
    files["worker/conn.c"] = '#include "worker/http1.h"\n'
    files["worker/conn.h"] = "\n"
    files["worker/http1.c"] = '#include "worker/conn.h"\n'
    files["worker/http1.h"] = "\n"
    r = tree(tmp_path, files)
    assert r.returncode == 1
    assert "include cycle in worker/ among 2 units" in r.stdout


def test_master_and_common_rules(tmp_path):
    files = dict(LAYERED)
    files["master/process.c"] = '#include "worker/worker.h"\n'
    files["common/bad.c"] = "#include <Python.h>\n"
    files["worker/conn.c"] = "#include <Python.h>\n"
    files["worker/asgi_http.c"] = "#include <Python.h>\n"
    r = tree(tmp_path, files)
    assert r.returncode == 1
    assert 'master/process.c: includes "worker/worker.h"' in r.stdout
    assert "common/bad.c: includes <Python.h>" in r.stdout
    assert "worker/conn.c: includes <Python.h>" in r.stdout
    assert "asgi_http.c" not in r.stdout
    assert "3 rule violations" in r.stdout


def test_repository_has_no_cycle_outside_worker():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True,
                       text=True, timeout=30)
    for line in r.stdout.splitlines():
        if line.startswith("layering: include cycle"):
            assert "in worker/ " in line, r.stdout
        assert "rule violations" not in line or \
            line.startswith("layering: FAILED (0 rule"), r.stdout


def test_private_header_belongs_to_its_unit(tmp_path):
    # worker/asgi_state.h has no .c: it holds asgi's shared internals, so
    # asgi.c -> asgi_state.h -> asgi.h is asgi including itself.
    files = dict(LAYERED)
    files["worker/asgi.h"] = "\n"
    files["worker/asgi.c"] = ('#include <Python.h>\n'
                              '#include "worker/asgi_state.h"\n')
    files["worker/asgi_state.h"] = '#include "worker/asgi.h"\n'
    files["worker/asgi_http.c"] = '#include "worker/asgi_state.h"\n'
    r = tree(tmp_path, files)
    assert r.returncode == 0, r.stdout


def test_private_header_cannot_hide_a_cycle(tmp_path):
    # conn.c -> http1_conn.h (http1's) and http1.c -> conn.h: still a cycle.
    files = dict(LAYERED)
    files["worker/conn.h"] = "\n"
    files["worker/conn.c"] = '#include "worker/http1_conn.h"\n'
    files["worker/http1.h"] = "\n"
    files["worker/http1_conn.h"] = '#include "worker/http1.h"\n'
    files["worker/http1.c"] = '#include "worker/conn.h"\n'
    r = tree(tmp_path, files)
    assert r.returncode == 1
    assert 'worker/conn.c includes "worker/http1_conn.h"' in r.stdout
