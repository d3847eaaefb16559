"""The ok/FAIL harness the compatibility check scripts share.

A check is a function run at once by the ``@check(name)`` decorator; it prints ``ok <name>`` or
``FAIL <name>: <reason>`` and the script carries on. ``finish()`` prints the tally and exits 1 when
anything failed.
"""

import os
import sys
import time
import traceback

PASSED = []
FAILED = []

# Fail fast instead of retrying for minutes. The harness is imported before mlflow, which reads
# these when it is imported.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def require_env(*names):
    """Exits with status 2 naming the variables the script needs that are not set."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        print(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set", file=sys.stderr)
        sys.exit(2)


class CheckError(Exception):
    pass


class State:
    """Values handed from one check to the next; reading one an earlier check never set fails."""

    def __init__(self):
        object.__setattr__(self, "_values", {})

    def __setattr__(self, key, value):
        self._values[key] = value

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise CheckError(f"prerequisite '{key}' is missing (an earlier check failed)") from None


def check(name):
    """Runs the decorated function at once as the check called ``name``."""

    def run(fn):
        try:
            fn()
        except CheckError as exc:
            FAILED.append(name)
            print(f"FAIL {name}: {exc}", flush=True)
        except Exception as exc:
            FAILED.append(name)
            # The line in the check script itself, not in the client library, says what failed.
            script = os.path.abspath(fn.__code__.co_filename)
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) == script]
            where = lines[-1] if lines else "?"
            message = (str(exc).strip().splitlines() or [""])[0]
            print(f"FAIL {name}: {type(exc).__name__} (line {where}): {message[:500]}", flush=True)
        else:
            PASSED.append(name)
            print(f"ok {name}", flush=True)
        return fn

    return run


def expect(cond, message):
    if not cond:
        raise CheckError(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CheckError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_mlflow_error(fn, code, what, status=None, max_seconds=5.0):
    """fn must raise an MlflowException with ``error_code == code`` (and HTTP ``status`` when given), at once."""
    from mlflow.exceptions import MlflowException

    started = time.monotonic()
    try:
        fn()
    except MlflowException as exc:
        elapsed = time.monotonic() - started
        expect_eq(exc.error_code, code, f"{what}: error_code (message: {exc.message[:200]!r})")
        if status is not None:
            expect_eq(exc.get_http_status_code(), status, f"{what}: HTTP status the client reports")
        expect(elapsed <= max_seconds, f"{what}: the error took {elapsed:.1f}s (retried?)")
        return exc
    raise CheckError(f"{what}: expected MlflowException {code}, the call succeeded")


def files_under(root):
    """Relative path (with /) → absolute path of every file below ``root``."""
    out = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(base, name)
            out[os.path.relpath(full, root).replace(os.sep, "/")] = full
    return out


def finish():
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)
