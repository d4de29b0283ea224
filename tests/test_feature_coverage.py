"""Every rule of every shipped protocol is specified for auditors: at least one scenario that
keeps it and one that breaks it, tagged with its ID; and every tag names a rule."""

from __future__ import annotations

import re

from kapcheck.cli.specs import Scenario, parse, scenarios
from kapcheck.protocol import load_protocol, shipped_protocols
from kapcheck.protocol.templates import TEMPLATES
from kapcheck.rules import WAIVER_RULE

#: Every rule of every shipped protocol, and the waiver rule.
RULES = sorted({r.id for name in shipped_protocols() for r in load_protocol(name).rules})
#: Scenarios of rules a scenario's own protocol defines are tagged with the template.
KNOWN = set(RULES) | {WAIVER_RULE} | {f"template-{t}" for t in TEMPLATES}


def _shows(s: Scenario, rule: str, verdict: str) -> bool:
    if re.search(rf"\b{rule} is {verdict}\b", s.text):
        return True
    outline = re.search(rf"\b{rule} is <(\w+)>", s.text)
    return bool(outline) and re.search(rf"\|\s*{verdict}\s*\|", s.text) is not None


def gaps(found: list[Scenario]) -> list[str]:
    """What the feature files fail to specify, in words."""
    problems = []
    for rule in RULES:
        tagged = [s for s in found if rule in s.tags]
        if not any(_shows(s, rule, "kept") for s in tagged):
            problems.append(f"{rule} has no scenario in which it is kept")
        if not any(_shows(s, rule, "violated") for s in tagged):
            problems.append(f"{rule} has no scenario in which it is violated")
    for s in found:
        if not s.tags:
            problems.append(f"{s.file}: {s.title!r} names no rule")
        for tag in sorted(s.tags - KNOWN):
            problems.append(f"{s.file}: {s.title!r} is tagged @{tag}, which names no rule")
    return problems


def test_every_rule_has_a_compliant_and_a_violating_scenario_and_every_tag_a_rule() -> None:
    assert gaps(scenarios()) == []


def test_the_coverage_check_notices_a_missing_violating_scenario() -> None:
    text = """
@KAP-MON-001
Feature: Monitoring
  Scenario: Long enough
    Then KAP-MON-001 is kept for D1
"""
    found = [s for s in scenarios() if "KAP-MON-001" not in s.tags] + parse("x.feature", text)
    assert gaps(found) == ["KAP-MON-001 has no scenario in which it is violated"]


def test_the_coverage_check_notices_a_tag_that_names_no_rule() -> None:
    text = "Feature: F\n  @KAP-MON-01\n  Scenario: Typo\n    Then KAP-MON-001 is kept\n"
    assert gaps(scenarios() + parse("x.feature", text)) == [
        "x.feature: 'Typo' is tagged @KAP-MON-01, which names no rule"]


def test_outline_examples_count_as_both_outcomes() -> None:
    [s] = parse("x.feature", "Feature: F\n @KAP-INT-001\n Scenario Outline: O\n"
                             "  Then KAP-INT-001 is <verdict> for D1\n  Examples:\n"
                             "   | verdict |\n   | kept |\n   | violated |\n")
    assert _shows(s, "KAP-INT-001", "kept") and _shows(s, "KAP-INT-001", "violated")
