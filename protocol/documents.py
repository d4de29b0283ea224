"""Reading documents safely: bytes to plain Python data, or problems.

YAML is read with a safe loader that refuses aliases (the billion-laughs bomb needs
them and a schedule never does), refuses duplicate keys (a second ``end:`` would
silently win) and keeps dates and times as text for the schedule loader to read in
the document's timezone. Sizes are capped before parsing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode

from .errors import Problems

try:  # orjson is much faster on the large JSON files a clinic network produces
    import orjson

    def _json_loads(data: bytes) -> Any:
        return orjson.loads(data)

    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is a dependency
    def _json_loads(data: bytes) -> Any:
        return json.loads(data)

    _JSON_ERRORS = (ValueError,)

MiB = 1024 * 1024
#: YAML is parsed in pure Python; big networks should use JSON or CSV.
MAX_YAML_BYTES = 32 * MiB
MAX_BYTES = 1024 * MiB
STDIN = "-"
#: A first line of column names (``id,patient,kind,...``) marks CSV on standard input.
_CSV_HEADER = re.compile(rb"^[A-Za-z_]+(?:\s*,\s*[A-Za-z_]+)+$")


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or implicit timestamps."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in kapcheck documents",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise ConstructorError(None, None, "a mapping key must be a plain value",
                                           key_node.start_mark) from None
                if duplicate:
                    raise ConstructorError(None, None, f"duplicate key {key!r}",
                                           key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# A schedule has no numbers, booleans or YAML timestamps: every scalar but null stays
# text, so `id: 007` is "007", `NO` is not False and `1:30` is not 5400.
_TEXT_ONLY = {"tag:yaml.org,2002:" + t for t in ("timestamp", "int", "float", "bool")}
_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _TEXT_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_bytes(source: str | Path, problems: Problems, stdin: Any = None) -> bytes | None:
    """The file's bytes, or None with a problem recorded."""
    if str(source) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(MAX_BYTES + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        path = Path(source)
        try:
            if path.is_dir():
                problems.add("", "is a directory, not a file")
                return None
            size = path.stat().st_size
            if size > MAX_BYTES:
                problems.add("", f"the file is {size // MiB} MiB; the limit is {MAX_BYTES // MiB} MiB")
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            problems.add("", "no such file")
            return None
        except OSError as exc:
            problems.add("", f"cannot be read: {exc.strerror or exc}")
            return None
    if len(data) > MAX_BYTES:
        problems.add("", f"the input is over the limit of {MAX_BYTES // MiB} MiB")
        return None
    return data


def _text(data: bytes, problems: Problems) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})")
        return None


def sniff_format(name: str, data: bytes) -> str:
    """``json``, ``yaml`` or ``csv``: by the file's ending, else by its first character."""
    lower = name.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".csv"):
        return "csv"
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "json"
    if _CSV_HEADER.match(text.split(b"\n", 1)[0].strip()):
        return "csv"
    return "yaml"


def parse_structured(data: bytes, fmt: str, problems: Problems) -> Any:
    """JSON or YAML bytes as plain data; None (with problems) when unusable."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        problems.add("", "the file is empty; expected a schedule document")
        return None
    if fmt == "json":
        try:
            return _json_loads(data)
        except _JSON_ERRORS as exc:
            problems.add("", f"is not valid JSON: {exc}")
            return None
        except RecursionError:
            problems.add("", "is nested too deeply")
            return None
    if len(data) > MAX_YAML_BYTES:
        problems.add("", f"the YAML document is {len(data) // MiB} MiB; YAML is limited to "
                         f"{MAX_YAML_BYTES // MiB} MiB (use JSON or CSV for larger schedules)")
        return None
    text = _text(data, problems)
    if text is None:
        return None
    try:
        documents = list(yaml.load_all(text, Loader=_SafeLoader))  # noqa: S506 - safe subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.add(where, f"is not valid YAML: {exc.problem or exc.context}")
        return None
    except yaml.YAMLError as exc:
        problems.add("", f"is not valid YAML: {exc}")
        return None
    except RecursionError:
        problems.add("", "is nested too deeply")
        return None
    documents = [d for d in documents if d is not None]
    if not documents:
        problems.add("", "the file is empty; expected a schedule document")
        return None
    if len(documents) > 1:
        problems.add("", "holds several YAML documents; expected one")
        return None
    return documents[0]
