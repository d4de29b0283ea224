"""The errors kapcheck raises for unusable input.

    KapcheckError                  every error of kapcheck's own
    └── InputError                 a document cannot be used; carries every Problem found
        ├── ScheduleError          a schedule document (YAML, JSON, CSV) or a waiver file
        │   └── FieldError         a model object built in code with a value it cannot
        │                          hold (also a ValueError, as attrs converters raise)
        └── ProtocolError          a protocol file (TOML)

A Problem names the file, the path inside it (``sessions[3].kind``) and what was
expected. Loaders collect every problem of a document before they raise, so a user
fixes a file in one pass. Nothing below the CLI prints or exits.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from attrs import frozen


@frozen
class Problem:
    file: str
    path: str
    message: str
    #: Line and column (from 1) in the file, where the format gives them (YAML).
    line: int | None = None
    column: int | None = None
    #: What the place holds, for people: ``session S-105``.
    subject: str | None = None

    def __str__(self) -> str:
        """``clinic.yaml:31:12: sessions[4].start (session S-105): message``: the
        file and line first, as compilers write them, so editors can jump there."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.path:
            where += f": {self.path}"
        if self.subject:
            where += f" ({self.subject})"
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "path": self.path, "line": self.line,
                "column": self.column, "message": self.message}


def did_you_mean(word: object, choices: Collection[str]) -> str:
    """``; did you mean 'clinician'?`` for a near miss among the choices, else ``""``."""
    if not isinstance(word, str) or not choices or len(word) > 128:
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    if not close or close[0] == word:
        return ""
    return f"; did you mean {close[0]!r}?"


class KapcheckError(Exception):
    """Base of kapcheck's errors."""


class InputError(KapcheckError):
    """A document cannot be used. ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ScheduleError(InputError):
    """A schedule, roster or waiver document is unusable."""


class FieldError(ScheduleError, ValueError):
    """A Session, Clinician or Waiver built in code with a value it cannot hold (an
    unknown kind, role or route)."""


class ProtocolError(InputError):
    """A protocol file is unusable."""


def join_path(path: str, key: str) -> str:
    """``sessions[3]`` + ``kind`` is ``sessions[3].kind``; a CSV row's is ``line 4, column kind``."""
    if path.startswith("line "):
        return f"{path}, column {key}"
    return f"{path}.{key}" if path else key


#: A path, or (path, key) to be joined only if a problem is reported there: a loader
#: names the place of every field it reads, and nearly all of them are fine.
Where = str | tuple[str, str]


class Problems:
    """Collects problems of one document, then raises them all at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, path: Where, message: str) -> None:
        if isinstance(path, tuple):
            path = join_path(*path)
        self.items.append(Problem(self.file, path, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, error: type[InputError] = ScheduleError) -> None:
        if self.items:
            raise error(self.items)
