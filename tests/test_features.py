"""The feature files in features/ run here, through pytest-bdd, with kapcheck's own step
vocabulary (``kapcheck.cli.steps``): the sentences a clinic's ``kapcheck test`` reads are
the ones the auditors' specification is written in, one definition each.

Steps speak the clinic's language; each scenario builds a schedule document, writes it
as YAML and validates it exactly as a compliance officer's file would be.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from kapcheck.cli import steps
from kapcheck.cli.steps import Clinic

FEATURES = Path(__file__).resolve().parent.parent / "features"
scenarios(str(FEATURES))


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return Clinic(tmp_path)


def _run(kind: str, clinic: Clinic, text: str, datatable: Any) -> None:
    found = steps.match(kind, text)
    assert found is not None, f"no step reads {kind} {text!r}; closest: {steps.closest(text)}"
    definition, values = found
    definition.run(clinic, datatable or (), **values)


@given(parsers.re(r"(?P<text>.+)"))
def given_step(clinic: Clinic, text: str, datatable: Any = None) -> None:
    _run("Given", clinic, text, datatable)


@when(parsers.re(r"(?P<text>.+)"))
def when_step(clinic: Clinic, text: str, datatable: Any = None) -> None:
    _run("When", clinic, text, datatable)


@then(parsers.re(r"(?P<text>.+)"))
def then_step(clinic: Clinic, text: str, datatable: Any = None) -> None:
    _run("Then", clinic, text, datatable)


def test_step_pattern_reads_every_session_form() -> None:
    for text in ("a dosing session D1 on 2026-03-02 from 10:00 to 12:00",
                 "an integration session I1 for P-2 on 2026-03-03 at 09:00 for 50 minutes "
                 "using PE with t-ortiz"):
        assert re.fullmatch(steps.SESSION, text)
