"""A small reader of Gherkin feature files, for ``kapcheck test``: features with their
description, Background, Scenarios and Scenario Outlines (each Examples row a scenario of
its own), tags, steps with data tables, and the line of everything.

kapcheck's step vocabulary is plain English in the Given/When/Then form; this reader
knows only what that vocabulary needs, and says where a file is not Gherkin it can read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from attrs import field, frozen

KEYWORDS = ("Given", "When", "Then", "And", "But", "*")
_TAG = re.compile(r"@([^\s@]+)")


@frozen
class Step:
    keyword: str
    text: str
    line: int
    table: tuple[tuple[str, ...], ...] = ()


@frozen
class Scenario:
    feature: str
    title: str
    file: str
    line: int
    tags: frozenset[str]
    steps: tuple[Step, ...]
    #: The Background's steps, run before the scenario's own.
    background: tuple[Step, ...] = ()


@frozen
class Feature:
    title: str
    file: str
    description: str
    scenarios: tuple[Scenario, ...] = field(factory=tuple)


class GherkinError(ValueError):
    """A feature file kapcheck cannot read: ``problems`` as (line, message)."""

    def __init__(self, file: str, problems: Sequence[tuple[int, str]]) -> None:
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{file}:{line}: {message}" for line, message in problems))


def parse(text: str, file: str) -> Feature:
    """The feature of one file; GherkinError listing every line it cannot read."""
    problems: list[tuple[int, str]] = []
    title = ""
    description: list[str] = []
    background: list[Step] = []
    scenarios: list[Scenario] = []
    feature_tags: set[str] = set()
    pending: set[str] = set()
    # The block being read: ("background" | "scenario" | "outline" | "examples", data)
    current: dict[str, Any] | None = None
    where = "before"

    def finish() -> None:
        nonlocal current
        if current is None:
            return
        if current["kind"] == "scenario":
            scenarios.append(Scenario(title, str(current["title"]), file, int(current["line"]),
                                      frozenset(current["tags"]), tuple(current["steps"]),
                                      tuple(background)))
        elif current["kind"] == "outline":
            _expand(current, title, file, background, scenarios, problems)
        current = None

    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            pending |= set(_TAG.findall(line))
            continue
        if line.startswith("Feature:"):
            if title:
                problems.append((number, "a file holds one Feature"))
            title = line[len("Feature:"):].strip()
            feature_tags, pending = pending, set()
            where = "description"
            continue
        if not title:
            problems.append((number, "expected 'Feature:' before anything else"))
            continue
        if line.startswith("Background:"):
            finish()
            current = {"kind": "background", "steps": background}
            where = "steps"
            continue
        if line.startswith(("Scenario Outline:", "Scenario Template:")):
            finish()
            current = {"kind": "outline", "title": line.split(":", 1)[1].strip(),
                       "line": number, "tags": feature_tags | pending, "steps": [],
                       "examples": [], "header": None}
            pending = set()
            where = "steps"
            continue
        if line.startswith(("Scenario:", "Example:")):
            finish()
            current = {"kind": "scenario", "title": line.split(":", 1)[1].strip(),
                       "line": number, "tags": feature_tags | pending, "steps": []}
            pending = set()
            where = "steps"
            continue
        if line.startswith(("Examples:", "Scenarios:")):
            if current is None or current["kind"] != "outline":
                problems.append((number, "Examples belong to a Scenario Outline"))
                continue
            current["header"] = None
            current["in_examples"] = True
            continue
        if line.startswith("|"):
            cells = tuple(c.strip() for c in line.strip("|").split("|"))
            if current is not None and current.get("in_examples"):
                if current["header"] is None:
                    current["header"] = cells
                else:
                    current["examples"].append((number, cells))
                continue
            steps = current["steps"] if current is not None else None
            if not steps:
                problems.append((number, "a table belongs under a step"))
                continue
            last = steps[-1]
            steps[-1] = Step(last.keyword, last.text, last.line, (*last.table, cells))
            continue
        keyword = next((k for k in KEYWORDS if line.startswith(k + " ") or line == k), None)
        if keyword is not None and current is not None and not current.get("in_examples"):
            current["steps"].append(Step(keyword, line[len(keyword):].strip(), number))
            continue
        if where == "description" and current is None:
            description.append(line)
            continue
        if current is not None and not current["steps"] and not current.get("in_examples"):
            continue  # a scenario's own description, before its first step
        problems.append((number, f"expected a step (Given, When, Then, And, But), a table or "
                                 f"a Scenario, got {line[:60]!r}"))
    finish()
    if not title and not problems:
        problems.append((1, "expected 'Feature:': this file holds no feature"))
    if problems:
        raise GherkinError(file, problems)
    return Feature(title, file, " ".join(description), tuple(scenarios))


def _expand(outline: dict[str, Any], feature: str, file: str, background: list[Step],
            scenarios: list[Scenario], problems: list[tuple[int, str]]) -> None:
    """A Scenario Outline's scenarios: one per Examples row, <name> replaced."""
    header = outline.get("header")
    rows = outline["examples"]
    if not header or not rows:
        problems.append((int(outline["line"]), "a Scenario Outline needs Examples with a "
                                              "header row and at least one row"))
        return
    for number, cells in rows:
        if len(cells) != len(header):
            problems.append((number, f"has {len(cells)} cells; the Examples header has "
                                     f"{len(header)}"))
            continue
        values = dict(zip(header, cells, strict=True))

        def fill(text: str, values: dict[str, str] = values) -> str:
            return re.sub(r"<([^<>]+)>", lambda m: values.get(m.group(1), m.group(0)), text)

        steps = tuple(Step(s.keyword, fill(s.text), s.line,
                           tuple(tuple(fill(c) for c in row) for row in s.table))
                      for s in outline["steps"])
        title = f"{outline['title']} ({', '.join(f'{k} = {v}' for k, v in values.items())})"
        scenarios.append(Scenario(feature, title, file, number, frozenset(outline["tags"]),
                                  steps, tuple(background)))
