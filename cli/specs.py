"""The feature scenarios that specify each rule, read from the shipped Gherkin files."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from attrs import frozen

_TAG = re.compile(r"@([A-Za-z0-9_.-]+)")


@frozen
class Scenario:
    feature: str
    title: str
    file: str
    tags: frozenset[str]
    #: The scenario's steps and examples, as written.
    text: str = ""


def _feature_files() -> list[tuple[str, str]]:
    try:
        folder = resources.files("kapcheck.features")
        files = [(p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir()
                 if p.name.endswith(".feature")]
        if files:
            return sorted(files)
    except (ModuleNotFoundError, FileNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parent.parent / "features"
    return sorted((p.name, p.read_text(encoding="utf-8")) for p in here.glob("*.feature"))


def scenarios() -> list[Scenario]:
    """Every scenario of the shipped features with its own and its feature's tags."""
    found: list[Scenario] = []
    for name, text in _feature_files():
        found.extend(parse(name, text))
    return found


def parse(name: str, text: str) -> list[Scenario]:
    """The scenarios of one feature file (a small reader: tags, titles, their text)."""
    found: list[Scenario] = []
    feature_tags: set[str] = set()
    pending: set[str] = set()
    feature = ""
    current: tuple[str, frozenset[str]] | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            found.append(Scenario(feature, current[0], name, current[1], "\n".join(body)))

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("@"):
            pending |= set(_TAG.findall(line))
        elif line.startswith("Feature:"):
            feature = line[len("Feature:"):].strip()
            feature_tags, pending = pending, set()
        elif line.startswith(("Scenario:", "Scenario Outline:", "Example:")):
            close()
            current = (line.split(":", 1)[1].strip(), frozenset(feature_tags | pending))
            body = []
            pending = set()
        elif line.startswith(("Background:", "Rule:")):
            close()
            current, body, pending = None, [], set()
        elif current is not None and line:
            body.append(line)
    close()
    return found


def preamble(text: str) -> tuple[str, str]:
    """A feature file's description (the prose under ``Feature:``) and its Background
    (the block, as written), for pages that show a feature whole."""
    description: list[str] = []
    background: list[str] = []
    state = "before"
    for raw in text.splitlines():
        line = raw.strip()
        if state == "before":
            if line.startswith("Feature:"):
                state = "description"
            continue
        if line.startswith(("Scenario", "Example:", "@", "Rule:")):
            break
        if line.startswith("Background:"):
            state = "background"
        if state == "description" and not line.startswith("#"):
            description.append(line)
        elif state == "background":
            background.append(raw.rstrip())
    indent = min((len(b) - len(b.lstrip()) for b in background if b.strip()), default=0)
    return (" ".join(w for w in description if w).strip(),
            "\n".join(b[indent:] for b in background).strip())


def scenarios_for(rule_id: str) -> list[Scenario]:
    return [s for s in scenarios() if rule_id in s.tags]
