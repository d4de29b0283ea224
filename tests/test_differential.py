"""The engine (durable_rules) against the plain-Python reference, finding for finding.

These tests are part of the engine: run them on every change to any rule, including a
rename of a binding. Each rule gets at least 500 generated schedules of its own, and
the whole protocol 500 more with random parameters.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import Protocol, Schedule, load_protocol
from kapcheck.rules import RULES, validate

from .generate import build, protocol_variant
from .reference import evaluate

#: 500 under `make test-long`; fewer in `make test`, which runs on every commit.
EXAMPLES_PER_RULE = int(os.environ.get("KAPCHECK_EXAMPLES", "500"))


def engine_keys(schedule: Schedule, protocol: Protocol) -> set[tuple[str, str, str | None, str | None]]:
    report = validate(schedule, protocol)
    return {(f.rule, f.severity.value, f.patient, f.session) for f in report.findings}


def only(protocol: Protocol, rule_id: str) -> Protocol:
    return attrs.evolve(protocol, rules=tuple(attrs.evolve(r, enabled=r.id == rule_id)
                                              for r in protocol.rules))


def _picker(data: st.DataObject):
    return lambda options: data.draw(st.sampled_from(list(options)))


@pytest.mark.parametrize("rule_id", list(RULES))
@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_engine_agrees_with_reference_for_each_rule(rule_id: str, data: st.DataObject) -> None:
    pick = _picker(data)
    schedule = build(pick)
    protocol = only(protocol_variant(pick), rule_id)
    assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_engine_agrees_with_reference_on_the_whole_protocol(data: st.DataObject) -> None:
    pick = _picker(data)
    schedule = build(pick)
    protocol = protocol_variant(pick)
    assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


def test_generated_schedules_exercise_both_outcomes_of_every_rule() -> None:
    """The generator is not vacuous: every rule both flags and passes anchors."""
    rng = random.Random(20261129)
    flagged: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    default = load_protocol("kap")
    for n in range(400):
        schedule = build(rng.choice)
        protocol = default if n % 2 else protocol_variant(rng.choice)
        expected = evaluate(schedule, protocol)
        assert engine_keys(schedule, protocol) == expected
        rules_hit = Counter(key[0] for key in expected)
        for rule_id in RULES:
            if rules_hit[rule_id]:
                flagged[rule_id] += 1
            else:
                kept[rule_id] += 1
    for rule_id in RULES:
        assert flagged[rule_id] >= 10, f"{rule_id} rarely flagged: {flagged[rule_id]}"
        assert kept[rule_id] >= 10, f"{rule_id} rarely kept: {kept[rule_id]}"
