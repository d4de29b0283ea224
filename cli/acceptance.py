"""``kapcheck test``: a clinic's own Gherkin scenarios run against a protocol, as
``opa test`` runs a policy's tests.

Each scenario runs on its own (a fresh schedule, the Background first). A scenario
passes when every step runs and every expectation holds; it fails when an expectation
does not hold (StepFailed: what kapcheck found instead); it is undefined when a step
reads as no step of the vocabulary (the closest one named), and an error when its input
is unusable (a protocol or schedule it builds that kapcheck refuses). Exit codes: 0 all
pass, 1 a scenario failed, 2 an undefined step or unusable input (wins over 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from attrs import frozen

from kapcheck.protocol import InputError

from . import steps
from .gherkin import Feature, GherkinError, Scenario, parse

PASSED, FAILED, UNDEFINED, ERROR = "passed", "failed", "undefined", "error"


@frozen
class Outcome:
    scenario: Scenario
    status: str
    #: The step that failed (keyword and text) and its line, for failed and the rest.
    step: str = ""
    line: int = 0
    message: str = ""


def run_scenario(scenario: Scenario, protocol: str) -> Outcome:
    clinic, folder = steps.new_clinic(protocol)
    kind = "Given"
    try:
        for s in (*scenario.background, *scenario.steps):
            if s.keyword in ("Given", "When", "Then"):
                kind = s.keyword
            found = steps.match(kind, s.text)
            if found is None:
                return Outcome(scenario, UNDEFINED, f"{s.keyword} {s.text}", s.line,
                               f"no step of kapcheck's vocabulary reads this; the closest: "
                               f"{kind} {steps.closest(s.text)}")
            definition, values = found
            try:
                definition.run(clinic, s.table, **values)
            except steps.StepFailed as exc:
                return Outcome(scenario, FAILED, f"{s.keyword} {s.text}", s.line, str(exc))
            except InputError as exc:
                return Outcome(scenario, ERROR, f"{s.keyword} {s.text}", s.line,
                               "unusable input: " + "; ".join(str(p) for p in exc.problems[:5]))
            except (KeyError, ValueError, IndexError, StopIteration) as exc:
                return Outcome(scenario, ERROR, f"{s.keyword} {s.text}", s.line,
                               f"the step's table or values cannot be read: {exc!r}")
    finally:
        folder.cleanup()
    return Outcome(scenario, PASSED)


def collect(paths: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The feature files named (folders: every .feature below them), and problems."""
    files: list[Path] = []
    problems: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.rglob("*.feature"))
            if not found:
                problems.append(f"{name}: holds no .feature file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{name}: no such file or folder")
    return files, problems


def read(files: Iterable[Path]) -> tuple[list[Feature], list[str]]:
    features, problems = [], []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read: {exc}")
            continue
        try:
            features.append(parse(text, str(path)))
        except GherkinError as exc:
            problems.extend(f"{path}:{line}: {message}" for line, message in exc.problems)
    return features, problems


def run(features: Iterable[Feature], protocol: str) -> list[Outcome]:
    return [run_scenario(s, protocol) for f in features for s in f.scenarios]


def text_report(outcomes: list[Outcome], problems: list[str]) -> str:
    lines = [f"error: {p}" for p in problems]
    for o in outcomes:
        s = o.scenario
        if o.status == PASSED:
            lines.append(f"{s.file}:{s.line}: PASS  {s.title}")
            continue
        lines.append(f"{s.file}:{s.line}: {o.status.upper()}  {s.title}")
        lines.append(f"    {s.file}:{o.line}: {o.step}")
        lines.append(f"    {o.message}")
    counts = {k: sum(1 for o in outcomes if o.status == k)
              for k in (PASSED, FAILED, UNDEFINED, ERROR)}
    if counts[UNDEFINED] or counts[ERROR] or problems:
        lines.append(f"{counts[UNDEFINED]} undefined, {counts[ERROR]} errors, "
                     f"{len(problems)} unusable files")
    lines.append(f"{counts[PASSED]} passed, {counts[FAILED]} failed")
    return "\n".join(lines) + "\n"


def junit_report(outcomes: list[Outcome], problems: list[str]) -> str:
    from .render import escape, quoteattr

    by_file: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_file.setdefault(o.scenario.file, []).append(o)
    suites = []
    for file, items in by_file.items():
        cases = []
        for o in items:
            head = (f'    <testcase name={quoteattr(o.scenario.title)} '
                    f'classname={quoteattr(Path(file).stem)} file={quoteattr(file)} '
                    f'line="{o.scenario.line}" time="0"')
            if o.status == PASSED:
                cases.append(head + "/>")
                continue
            tag = "failure" if o.status == FAILED else "error"
            detail = f"{file}:{o.line}: {o.step}\n{o.message}"
            cases.append(head + f"><{tag} message={quoteattr(o.message[:200])} "
                         f'type="{o.status}">{escape(detail)}</{tag}></testcase>')
        failures = sum(1 for o in items if o.status == FAILED)
        errors = len(items) - failures - sum(1 for o in items if o.status == PASSED)
        suites.append(f'  <testsuite name={quoteattr(file)} tests="{len(items)}" '
                      f'failures="{failures}" errors="{errors}" skipped="0" time="0">\n'
                      + "\n".join(cases) + "\n  </testsuite>")
    if problems:
        body = escape("\n".join(problems))
        suites.append('  <testsuite name="kapcheck test input" tests="1" failures="0" '
                      'errors="1" skipped="0" time="0">\n    <testcase name="the feature '
                      'files are usable" classname="kapcheck.input" time="0"><error '
                      f'message="unusable input" type="unusable input">{body}</error>'
                      "</testcase>\n  </testsuite>")
    total = len(outcomes) + (1 if problems else 0)
    failures = sum(1 for o in outcomes if o.status == FAILED)
    errors = total - failures - sum(1 for o in outcomes if o.status == PASSED)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="kapcheck test" tests="{total}" failures="{failures}" '
            f'errors="{errors}" time="0">\n' + "\n".join(suites) + "\n</testsuites>\n")


def exit_code(outcomes: list[Outcome], problems: list[str]) -> int:
    if problems or any(o.status in (UNDEFINED, ERROR) for o in outcomes):
        return 2
    return 1 if any(o.status == FAILED for o in outcomes) else 0
