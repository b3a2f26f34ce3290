"""asgimaster: run an ASGI application under the asgimaster server.

    import asgimaster
    asgimaster.run("main:app", http2=True, ssl_keyfile="key.pem",
                   ssl_certfile="cert.pem", workers=4)

takes Uvicorn's keyword names (uvicorn.run()'s) and hands over to the
asgimaster binary with execv(): the same process id, so signals, exit
status and a supervisor's view of the process are the binary's. It does
not return. `python3 -m asgimaster main:app ...` does the same with the
command line as given. See asgimaster(8).

The binary is found as $ASGIMASTER_BIN, then the one `make install` put
beside this package, then ./asgimaster of the checkout this package is in,
then `asgimaster` on $PATH.
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import shutil
import sys
from pathlib import Path

__all__ = ["run", "find_binary", "command_line"]

# Keywords that are on/off flags: True gives --name, False --no-name.
_BOOL = {"http2", "access_log", "proxy_headers", "server_header",
         "factory", "reload"}
# Keywords that take a list: one flag per item.
_LIST = {"bind", "reload_dirs", "reload_includes", "reload_excludes"}
# Keywords that are not flags of ours, with why (uvicorn.run() takes them).
_REFUSED = {
    "use_colors": "the error log has one format; drop use_colors",
    "headers": "set response headers in the application",
    "date_header": "the Date header is always sent (RFC 9110 section 6.6.1)",
}


def find_binary():
    """The asgimaster binary to exec: a path, or raise FileNotFoundError."""
    env = os.environ.get("ASGIMASTER_BIN")
    if env:
        return env
    here = Path(__file__).resolve().parent
    try:
        from asgimaster import _installed  # written by `make install`
        cands = [Path(_installed.BIN)]
    except ImportError:
        cands = []
    cands.append(here.parent.parent / "asgimaster")  # a checkout
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("asgimaster")
    if found:
        return found
    raise FileNotFoundError(
        "asgimaster: the asgimaster binary was not found: set "
        "ASGIMASTER_BIN, run `make install`, or put it on PATH")

def _import_string_for(app):
    """A "module:attr" that names app, when one can be found, else None."""
    mod = getattr(app, "__module__", None)
    if mod is None or mod not in sys.modules:
        return None
    module = sys.modules[mod]
    for name, value in vars(module).items():
        if value is app and not name.startswith("_"):
            if mod == "__main__":
                f = getattr(module, "__file__", None)
                mod = Path(f).stem if f else None
            return f"{mod}:{name}" if mod else None
    return None

def command_line(app, **kwargs):
    """The asgimaster argv (without the binary) for run(app, **kwargs)."""
    if not isinstance(app, str):
        hint = _import_string_for(app)
        raise TypeError(
            "asgimaster.run() takes the application as an import string "
            "such as \"main:app\", not the object: each worker imports it "
            "itself after the fork, so it must be importable by name"
            + (f"; here: asgimaster.run({hint!r})" if hint else ""))
    args = [app]
    for key, value in kwargs.items():
        if key in _REFUSED:
            raise TypeError(f"asgimaster.run(): {key}: {_REFUSED[key]}")
        if not key.isidentifier() or key.startswith("_"):
            raise TypeError(f"asgimaster.run(): bad keyword {key!r}")
        flag = "--" + key.replace("_", "-")
        if key in _LIST and key.startswith("reload_"):
            flag = flag[:-1]  # reload_dirs: each item as --reload-dir
        if value is None:
            continue
        if key in _BOOL:
            if not isinstance(value, bool):
                raise TypeError(f"asgimaster.run(): {key} takes True or "
                                f"False, not {value!r}")
            args.append(flag if value else "--no-" + flag[2:])
        elif key in _LIST and not isinstance(value, (str, os.PathLike)):
            for v in value:
                args += [flag, os.fspath(v)]
        elif key == "log_config" and not isinstance(value, (str,
                                                            os.PathLike)):
            raise TypeError("asgimaster.run(): log_config takes a file "
                            "(dictConfig YAML or JSON, or INI), not "
                            f"{type(value).__name__}: each worker reads it")
        elif isinstance(value, bool):
            raise TypeError(f"asgimaster.run(): {key} takes a value, not "
                            f"{value!r}")
        else:
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            args += [flag, str(int(value)) if key == "ssl_cert_reqs"
                     else str(value)]
    return args

def run(app, **kwargs):
    """Exec the asgimaster binary serving app ("module:attr").

    Keywords are uvicorn.run()'s (host, port, uds, fd, workers, http2,
    ssl_keyfile, ssl_certfile, ssl_keyfile_password, ssl_ca_certs,
    ssl_cert_reqs, proxy_headers, forwarded_allow_ips, root_path,
    timeout_keep_alive, timeout_graceful_shutdown, limit_concurrency,
    limit_max_requests, app_dir, env_file, access_log, log_level, lifespan,
    factory, ...) and asgimaster's own flags (config, bind, chdir, pid,
    user, group, error_log, access_format, ...), each the flag of the same
    name. Does not return: the process becomes the server.
    """
    args = command_line(app, **kwargs)
    exe = find_binary()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [exe] + args)
