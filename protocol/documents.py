"""Reading documents safely: bytes to plain Python data, or problems.

YAML is read with a safe loader that refuses aliases (the billion-laughs bomb needs
them and a schedule never does), refuses duplicate keys (a second ``end:`` would
silently win) and keeps dates and times as text for the schedule loader to read in
the document's timezone. Sizes are capped before parsing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import Problems
from .limits import MAX_FILE_BYTES, MAX_YAML_BYTES, MiB, clip, shown


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"the key {shown(key)} appears twice in one object "
                                        "(a second value would silently win)")
            seen.add(key)
    return out


def json_loads(data: str | bytes) -> Any:
    """JSON as plain data; duplicate keys are an error, as they are in YAML.

    orjson reads fast but keeps the last of duplicate keys, so the standard library's
    decoder, which can see every pair, reads documents; orjson is kept for writing.
    """
    return json.loads(data, object_pairs_hook=_no_duplicates)


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)
#: What ``raw_decode`` calls (the C scanner), for reading items without its frame each.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_WS = re.compile(r"[ \t\n\r]*")
#: The JSON decoder's own reader of a string (its C version), from just past the quote.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


#: The characters JSON takes as whitespace.
_SPACE = frozenset(" \t\n\r")


def _skip(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is no whitespace."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


class _Cursor:
    __slots__ = ("pos", "done")

    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.done = False


def json_members(text: str, streamed: str,
                 decode_run: RunDecoder | None = None) -> Iterator[tuple[str, Any]]:
    """The members of the JSON object ``text`` holds, in order, each value decoded as
    ``json_loads`` decodes it; but the value of the member named ``streamed``, when it
    is an array, comes as an iterator of its items, each decoded when it is asked for
    (consume it before asking for the next member), runs of them decoded at once by
    ``decode_run`` where it reads them. A large schedule is so read one
    session at a time instead of whole. ValueError (DuplicateKeyError within a value)
    for text that is not one well-formed JSON object."""
    pos = _skip(text, 0)
    if text[pos:pos + 1] != "{":
        raise ValueError("expected a JSON object")
    pos = _skip(text, pos + 1)
    if text[pos:pos + 1] == "}":
        pos += 1
    else:
        while True:
            if text[pos:pos + 1] != '"':
                raise ValueError(f"expected a key at {pos}")
            key, pos = _scanstring(text, pos + 1)
            pos = _skip(text, pos)
            if text[pos:pos + 1] != ":":
                raise ValueError(f"expected ':' at {pos}")
            pos = _skip(text, pos + 1)
            if key == streamed and text[pos:pos + 1] == "[":
                cursor = _Cursor(pos + 1)
                yield key, _items(text, cursor, decode_run)
                if not cursor.done:
                    raise ValueError(f"the items of {streamed} were not all read")
                pos = cursor.pos
            else:
                value, pos = _DECODER.raw_decode(text, pos)
                yield key, value
            pos = _skip(text, pos)
            mark = text[pos:pos + 1]
            if mark == "}":
                pos += 1
                break
            if mark != ",":
                raise ValueError(f"expected ',' or '}}' at {pos}")
            pos = _skip(text, pos + 1)
    if _skip(text, pos) != len(text):
        raise ValueError(f"extra data at {pos}")


#: About how many characters of an array ``_items`` hands to its run decoder at once.
RUN_CHARS = 1 << 18

#: Decodes the text of whole items of an array (``{...}, {...}``) at once: their values
#: as the standard library would read them (or records of them), or None.
RunDecoder = Callable[[bytes], "list[Any] | None"]


def _items(text: str, cursor: _Cursor, decode_run: RunDecoder | None) -> Iterator[Any]:
    """The items of the array at the cursor, a run of about RUN_CHARS at a time where
    ``decode_run`` reads it, else one by one."""
    scan = _SCAN
    pos = _skip(text, cursor.pos)
    if text[pos:pos + 1] != "]":
        # Items before this position are decoded one by one (a run that did not read).
        single_to = 0
        while True:
            if pos >= single_to and decode_run is not None:
                # A run ends at "}," past RUN_CHARS: were that inside a string or an
                # item, the run would be no array's items, and would not decode.
                end = text.find("},", pos + RUN_CHARS)
                run = decode_run(text[pos:end + 1].encode()) if end >= 0 else None
                if run is not None:
                    yield from run
                    pos = _skip(text, end + 2)
                    continue
                single_to = end + 1 if end >= 0 else len(text)
            try:
                item, pos = scan(text, pos)
            except StopIteration:
                raise ValueError(f"expected a value at {pos}") from None
            yield item
            mark = text[pos:pos + 1]
            if mark in _SPACE:  # most files write "},{" or "},\n  {"
                pos = _skip(text, pos)
                mark = text[pos:pos + 1]
            if mark == "]":
                break
            if mark != ",":
                raise ValueError(f"expected ',' or ']' at {pos}")
            pos += 1
            if text[pos:pos + 1] in _SPACE:
                pos = _skip(text, pos)
    cursor.pos, cursor.done = pos + 1, True


MAX_BYTES = MAX_FILE_BYTES
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

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # Only text, lists, mappings and null: an explicit tag (`!!int 0x`, `!!binary`,
        # `!!timestamp 2026-02-30`) would run a constructor that can fail or surprise.
        if node.tag not in _PLAIN_TAGS:
            raise ConstructorError(None, None, f"the tag {shown(node.tag)} is not allowed; "
                                   "write the value as plain text", node.start_mark)
        return super().construct_object(node, deep=deep)

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
                    raise ConstructorError(None, None, f"duplicate key {shown(key)}",
                                           key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("str", "seq", "map", "null"))

# A schedule has no numbers, booleans or YAML timestamps: every scalar but null stays
# text, so `id: 007` is "007", `NO` is not False and `1:30` is not 5400.
# `<<` (merge) and `=` (value) stay text too: they are keys no document has.
_TEXT_ONLY = {"tag:yaml.org,2002:" + t
              for t in ("timestamp", "int", "float", "bool", "merge", "value")}
_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _TEXT_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_bytes(source: str | Path, problems: Problems, stdin: Any = None,
               limit: int = MAX_BYTES) -> bytes | None:
    """The file's bytes, or None with a problem recorded.

    Only regular files and standard input are read: a FIFO with no writer would block
    forever and a device (/dev/zero, /dev/urandom) never ends. The file is opened
    without blocking and checked by its open descriptor, so nothing can be swapped in
    between the check and the read; at most ``limit`` bytes are read.
    """
    if str(source) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(limit + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        except FileNotFoundError:
            problems.add("", "no such file")
            return None
        except IsADirectoryError:
            problems.add("", "is a directory, not a file")
            return None
        except (OSError, ValueError) as exc:
            problems.add("", f"cannot be read: {getattr(exc, 'strerror', None) or exc}")
            return None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                problems.add("", "is a directory, not a file")
                return None
            if not stat.S_ISREG(info.st_mode):
                problems.add("", "is not a regular file (a device, pipe or socket); give a "
                                 "file, or '-' for standard input")
                return None
            if info.st_size > limit:
                problems.add("", f"the file is {info.st_size // MiB} MiB; the limit is "
                                 f"{limit // MiB} MiB")
                return None
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as stream:
                data = stream.read(limit + 1)
        except OSError as exc:
            problems.add("", f"cannot be read: {exc.strerror or exc}")
            return None
        finally:
            os.close(fd)
    if len(data) > limit:
        problems.add("", f"the input is over the limit of {limit // MiB} MiB")
        return None
    return data


def _text(data: bytes, problems: Problems) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})")
        return None


def sniff_format(name: str, data: bytes) -> str:
    """``json``, ``yaml``, ``csv`` or ``ics``: by the file's ending, else by its content
    (``BEGIN:VCALENDAR``, a first ``{`` or ``[``, a header row of column names)."""
    lower = name.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".ics"):
        return "ics"
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:15].upper() == b"BEGIN:VCALENDAR":
        return "ics"
    if text[:1] in (b"{", b"["):
        return "json"
    if _CSV_HEADER.match(text.split(b"\n", 1)[0].strip()):
        return "csv"
    return "yaml"


def parse_structured(data: bytes, fmt: str, problems: Problems,
                     places: list[Places] | None = None) -> Any:
    """JSON or YAML bytes as plain data; None (with problems) when unusable.

    With ``places``, a YAML document's Places (line and column of every path) is
    appended to it."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        problems.add("", "the file is empty; expected a schedule document")
        return None
    if fmt == "json":
        text = _text(data, problems)
        if text is None:
            return None
        try:
            return json_loads(text)
        except DuplicateKeyError as exc:
            problems.add("", str(exc))
            return None
        except RecursionError:
            problems.add("", "is nested too deeply")
            return None
        except ValueError as exc:  # JSONDecodeError, and int() of thousands of digits
            problems.add("", f"is not valid JSON: {clip(str(exc))}")
            return None
    if len(data) > MAX_YAML_BYTES:
        problems.add("", f"the YAML document is {len(data) // MiB} MiB; YAML is limited to "
                         f"{MAX_YAML_BYTES // MiB} MiB (use JSON or CSV for larger schedules)")
        return None
    text = _text(data, problems)
    if text is None:
        return None
    try:
        documents, nodes = _load_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.add(where, f"is not valid YAML: {exc.problem or exc.context}")
        return None
    except RecursionError:
        problems.add("", "is nested too deeply")
        return None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        problems.add("", f"is not valid YAML: {clip(str(exc))}")
        return None
    found = [(d, n) for d, n in zip(documents, nodes, strict=True) if d is not None]
    if not found:
        problems.add("", "the file is empty; expected a schedule document")
        return None
    if len(found) > 1:
        problems.add("", "holds several YAML documents; expected one")
        return None
    if places is not None:
        places.append(Places(found[0][1]))
    return found[0][0]


def _load_all(text: str) -> tuple[list[Any], list[Any]]:
    """Every document of the text, and the node each was built from (for places)."""
    loader = _SafeLoader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return [loader.construct_document(n) for n in nodes], nodes
    finally:
        loader.dispose()


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


class Places:
    """Where each path of a YAML document was written (line and column from 1), and
    what the item there is (``session S-105``), read off the document's nodes."""

    SUBJECTS = {"sessions": "session", "patients": "patient", "clinicians": "clinician"}

    def __init__(self, root: Any) -> None:
        self.root = root

    def item_lines(self, collection: str) -> list[int]:
        """The line of each item of a top-level list (``sessions``), in order."""
        node = self._child(self.root, collection)
        if not isinstance(node, SequenceNode):
            return []
        return [item.start_mark.line + 1 for item in node.value]

    def locate(self, path: str) -> tuple[int, int, str | None] | None:
        """(line, column, subject) of the deepest node the path reaches."""
        node, subject, reached = self.root, None, None
        steps = [(m.group(1), m.group(2)) for m in _STEP.finditer(path)]
        for n, (key, index) in enumerate(steps):
            if index is not None:
                if not isinstance(node, SequenceNode) or int(index) >= len(node.value):
                    break
                node = node.value[int(index)]
                if n == 1 and steps[0][0] in self.SUBJECTS:
                    ident = self._child(node, "id")
                    if isinstance(ident, ScalarNode) and 0 < len(ident.value) <= 255:
                        subject = f"{self.SUBJECTS[steps[0][0]]} {ident.value}"
            else:
                child = self._child(node, key)
                if child is None:
                    break
                node = child
            reached = node
        if reached is None:
            reached = self.root if path == "" else None
        if reached is None:
            return None
        return reached.start_mark.line + 1, reached.start_mark.column + 1, subject

    @staticmethod
    def _child(node: Any, key: str) -> Any:
        """The node of ``key``'s value in a mapping node, or None."""
        if not isinstance(node, MappingNode):
            return None
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node
        return None
