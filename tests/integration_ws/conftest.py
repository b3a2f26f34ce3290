"""tests/integration_ws/conftest.py: the fixtures of
tests/integration/conftest.py, for the WebSocket tests that wait here
until the lead moves them there (README.md). Delete with this directory.
SPDX-License-Identifier: BSD-2-Clause
"""

import sys
from pathlib import Path

_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(_INTEGRATION))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_path = _INTEGRATION / "conftest.py"
_globals = {"__file__": str(_path), "__name__": "conftest"}
exec(compile(_path.read_text(), str(_path), "exec"), _globals)
globals().update({k: v for k, v in _globals.items()
                  if not k.startswith("__")})
