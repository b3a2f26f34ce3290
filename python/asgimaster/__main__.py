"""python3 -m asgimaster ARGS: exec the asgimaster binary with ARGS, in
this process (same pid). See asgimaster(8).
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import sys

from asgimaster import find_binary


def main():
    try:
        exe = find_binary()
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [exe] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
