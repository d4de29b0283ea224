"""The console script: every failure of kapcheck itself becomes exit 3, one line.

Kept apart from ``main`` so that a failure while importing kapcheck (a broken build of
the rules engine, a missing dependency) is caught too: it must not read as exit 1,
"findings".
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

INTERNAL = 3


def run() -> None:
    """Exit codes are total: 0, 1 and 2 as documented, 3 for any failure of kapcheck
    itself (one line on stderr; the traceback with KAPCHECK_DEBUG=1)."""
    try:
        from .main import app

        app(prog_name="kapcheck")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, and claim no verdict.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(INTERNAL)
    except SystemExit as exc:
        # The verdict is written: leave without tearing down a million-session model
        # object by object (about half a second per 100,000 sessions).
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            code = INTERNAL
        os._exit(code)
    except BaseException as exc:  # noqa: BLE001 - the one place every failure becomes exit 3
        if os.environ.get("KAPCHECK_DEBUG") == "1":
            traceback.print_exc()
        else:
            sys.stderr.write(f"kapcheck: internal error: {type(exc).__name__}: "
                             f"{str(exc)[:200]} (set KAPCHECK_DEBUG=1 for the traceback)\n")
        sys.exit(INTERNAL)
