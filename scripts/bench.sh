#!/usr/bin/env bash
# scripts/bench.sh: `make bench`. The benchmark itself is scripts/bench.py
# (servers, scenarios, the table and its TSV are described at its top and
# in README.md, section "Benchmark"); this wrapper runs it with Debian's Python.
# SPDX-License-Identifier: BSD-2-Clause

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 scripts/bench.py "$@"
