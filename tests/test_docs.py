"""The documentation cannot fall behind the code: generated pages are current, every
key the loaders accept is documented on its format page, the examples in the pages
work, every page is in the site's navigation, and the README names nothing outside the
repository. (`make test` also builds the site with `mkdocs build --strict`.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kapcheck.protocol import fhir as fhir_reader
from kapcheck.protocol import ical as ical_reader
from kapcheck.protocol import load_protocol, load_schedule, loader, proposals
from kapcheck.protocol.templates import RULE_KEYS, TEMPLATES
from kapcheck.rules import validate

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_generated_pages_are_current() -> None:
    done = subprocess.run([sys.executable, str(DOCS / "generate.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def _source_strings(module: object, pattern: str) -> set[str]:
    return set(re.findall(pattern, Path(module.__file__).read_text()))  # type: ignore[attr-defined]


FHIR_INTERNAL = {"patient"}  # a key of kapcheck's own session record, not of FHIR


@pytest.mark.parametrize(("name", "keys"), [
    ("formats/schedule.md", {*loader.TOP_KEYS, *loader.SESSION_KEYS, *loader.PATIENT_KEYS,
                             *loader.CLINICIAN_KEYS}),
    ("formats/csv.md", {*loader.CSV_SESSION_COLUMNS, *loader.CSV_PATIENT_COLUMNS,
                        *loader.CSV_CLINICIAN_COLUMNS}),
    ("formats/waivers.md", {*loader.WAIVER_KEYS, "timezone"}),
    ("formats/proposals.md", set(proposals.KEYS)),
    ("formats/protocols.md", {"name", "version", "extends", *RULE_KEYS,
                              *(p for t in TEMPLATES.values() for p in t.params),
                              *(s.alias for t in TEMPLATES.values() for s in t.params.values()
                                if s.alias)}),
    ("formats/icalendar.md", _source_strings(ical_reader, r'"([A-Z][A-Z-]{2,})"')),
    ("formats/fhir.md", _source_strings(fhir_reader, r'\.get\("([a-zA-Z]+)"') - FHIR_INTERNAL
     | fhir_reader.SESSION_STATUSES | fhir_reader.NOT_SESSIONS),
])
def test_every_key_the_loaders_accept_is_documented(name: str, keys: set[str]) -> None:
    # Every key must be written as code on its page (`dose_mg`, `STATUS:CANCELLED`,
    # `participant[].actor.reference`), in a table, a sentence or an example.
    text = page(name)
    code = " ".join(re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S))
    written = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*", code))
    missing = sorted(keys - written)
    assert not missing, f"{name} does not document {missing}"


def test_every_template_has_a_section_in_the_reference() -> None:
    text = page("reference/templates.md")
    for name in TEMPLATES:
        assert f"## `{name}`" in text


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def test_the_getting_started_schedule_is_compliant_and_its_broken_step_breaks(
        tmp_path: Path) -> None:
    text = page("getting-started.md")
    (block,) = [b for b in _blocks(text.replace("\n    ", "\n"), "yaml") if "sessions:" in b]
    path = tmp_path / "clinic.yaml"
    path.write_text(block)
    report = validate(load_schedule(path), load_protocol("kap"))
    assert report.compliant and report.findings == ()
    path.write_text(block.replace("start: 2026-05-07T10:00", "start: 2026-05-10T10:00"))
    report = validate(load_schedule(path), load_protocol("kap"))
    assert [(f.rule, f.session) for f in report.findings] == [("KAP-INT-001", "D-1")]


def test_the_format_pages_examples_load(tmp_path: Path) -> None:
    (schedule,) = [b for b in _blocks(page("formats/schedule.md"), "yaml") if "sessions:" in b]
    (tmp_path / "s.yaml").write_text(schedule)
    assert len(load_schedule(tmp_path / "s.yaml").sessions) == 3
    (toml,) = _blocks(page("formats/protocols.md"), "toml")[:1]
    (tmp_path / "p.toml").write_text(toml)
    protocol = load_protocol(tmp_path / "p.toml")
    assert protocol.rule("RIV-FOLLOWUP-001").parameters["window_hours"] == 168
    (waivers,) = _blocks(page("formats/waivers.md"), "yaml")
    assert yaml.safe_load(waivers)["waivers"][0]["rule"] == "KAP-ASMT-001"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    assert pages and all(p in nav for p in pages), [p for p in pages if p not in nav]


def test_the_readme_names_nothing_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme and "shared/" not in readme
    assert "make demo" in readme and "make test" in readme and "docs/" in readme
