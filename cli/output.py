"""Writing a report to a file the user names, safely.

kapcheck writes only to a regular file or to a new path. The final component is looked
at without following it (``lstat``): a symbolic link (dangling or not), a directory, a
FIFO, a socket or a device is refused, never written through or replaced. The text goes
to a fresh file beside the target, created exclusively under a random name, and is
renamed over the target's name: a reader never sees half a report, and a link planted
while it was written is replaced, not followed. An existing report keeps its mode; a new
one gets the mode the umask gives.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


class UnsafeTarget(OSError):
    """The path names something kapcheck does not write to (a link, a device, ...)."""


def _what(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover - every file type is named above


def check_target(target: Path) -> None:
    """Refuse (UnsafeTarget) a path whose final component exists and is not a regular
    file."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    what = _what(mode)
    if what is not None:
        raise UnsafeTarget(f"{target} is {what}; kapcheck writes only a regular file or a "
                           "new path")


def write_safely(target: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``target`` as the module says."""
    check_target(target)
    try:
        mode = stat.S_IMODE(os.lstat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    parent = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".kapcheck-tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fchmod(out.fileno(), mode)
        check_target(target)  # not replaced by a link or a device meanwhile
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
