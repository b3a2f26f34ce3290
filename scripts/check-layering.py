#!/usr/bin/python3
"""scripts/check-layering.py: the include rules of docs/ARCHITECTURE.md.

A unit is a source file without its extension: common/conf_set.c and
common/conf_set.h are the unit "common/conf_set". A unit depends on another
when one of its files includes one of the other's by path ("common/log.h").
This script fails (exit 1) on:

  - an include cycle among units (each strongly connected set of units is
    printed with the includes that close it);
  - master/ or common/ including a worker/ header, or <Python.h>
    (master/ sits over worker/ over common/, but the master never links
    Python and must reach the worker through common/worker_entry.h);
  - a worker/ file including <Python.h> other than worker/asgi*.[ch] and
    worker/pyembed.[ch], the only ones built with Python's flags.

Findings are grouped by top directory. A header without a .c of its own
whose name extends a unit's (worker/asgi_state.h) is that unit's private
part and is checked as part of it.

Usage: scripts/check-layering.py [ROOT]   (default: the repository root)
SPDX-License-Identifier: BSD-2-Clause
"""

import fnmatch
import os
import re
import sys

DIRS = ("common", "master", "worker")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
PYTHON_OK = ("worker/asgi*.c", "worker/asgi*.h", "worker/pyembed.c",
             "worker/pyembed.h")


def sources(root):
    for d in DIRS:
        top = os.path.join(root, d)
        if not os.path.isdir(top):
            continue
        for name in sorted(os.listdir(top)):
            if name.endswith((".c", ".h")):
                yield f"{d}/{name}"


def unit(path):
    return os.path.splitext(path)[0]


def owners(root):
    """{header: unit} for private headers: a header without a .c of its own
    whose name extends a unit's (worker/asgi_state.h, worker/http1_conn.h)
    holds that unit's shared internals and is checked as part of it, so
    asgi.c -> asgi_state.h -> asgi.h is no cycle of asgi with itself."""
    paths = list(sources(root))
    units = {unit(p) for p in paths if p.endswith(".c")}
    found = {}
    for path in paths:
        u = unit(path)
        if not path.endswith(".h") or u in units:
            continue
        parts = u.split("_")
        for n in range(len(parts) - 1, 0, -1):
            if "_".join(parts[:n]) in units:
                found[path] = "_".join(parts[:n])
                break
    return found


def scan(root):
    """edges: {unit: {unit: [(file, included)]}}, rule violations."""
    edges, problems = {}, []
    private = owners(root)
    for path in sources(root):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        u = private.get(path, unit(path))
        edges.setdefault(u, {})
        for kind, inc in INCLUDE.findall(text):
            if kind == "<":
                if inc == "Python.h":
                    top = path.split("/")[0]
                    if top in ("master", "common"):
                        problems.append(
                            f"{path}: includes <Python.h>: {top}/ never "
                            "sees Python's headers")
                    elif not any(fnmatch.fnmatch(path, p) for p in PYTHON_OK):
                        problems.append(
                            f"{path}: includes <Python.h>: only "
                            "worker/asgi*.c and worker/pyembed.c (and their "
                            "headers) are built with Python's flags")
                continue
            if inc.split("/")[0] not in DIRS:
                continue
            if (path.startswith(("master/", "common/")) and
                    inc.startswith("worker/")):
                problems.append(
                    f"{path}: includes \"{inc}\": {path.split('/')[0]}/ "
                    "must not include worker/ headers")
            v = private.get(inc, unit(inc))
            if v != u:
                edges[u].setdefault(v, []).append((path, inc))
    return edges, problems


def components(edges):
    """Tarjan's strongly connected components, iterative."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    edges, problems = scan(root)
    cycles = components(edges)
    failed = False

    for p in problems:
        print(f"layering: {p}")
        failed = True

    for comp in sorted(cycles, key=lambda c: c[0]):
        tops = sorted({u.split("/")[0] for u in comp})
        label = "/, ".join(tops) + "/"
        print(f"layering: include cycle in {label} among "
              f"{len(comp)} units:")
        members = set(comp)
        for u in comp:
            for v, via in sorted(edges.get(u, {}).items()):
                if v in members:
                    for path, inc in via:
                        print(f"    {path} includes \"{inc}\"")
        failed = True

    nunits = len(edges)
    if failed:
        print(f"layering: FAILED ({len(problems)} rule violations, "
              f"{len(cycles)} include cycles among {nunits} units)")
        return 1
    print(f"layering: ok ({nunits} units, no include cycle)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
