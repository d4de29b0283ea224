"""The engine (durable_rules) against the plain-Python reference, finding for finding.

These tests are part of the engine: run them on every change to any template, including
a rename of a binding. Each template gets 500 generated schedules (`make test-long`)
with random rules of it drawn from its whole parameter space, the kap protocol 500 more
with random parameters, and every shipped protocol its share.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import (
    Clinician,
    Kind,
    Patient,
    Protocol,
    Role,
    Schedule,
    Session,
    load_protocol,
    shipped_protocols,
)
from kapcheck.protocol.templates import TEMPLATES
from kapcheck.rules import check_protocol, engine, validate
from kapcheck.rules.base import Partition

from .generate import build, protocol_variant, template_protocol
from .reference import evaluate

#: 500 under `make test-long`; fewer in `make test`, which runs on every commit.
EXAMPLES_PER_RULE = int(os.environ.get("KAPCHECK_EXAMPLES", "500"))


def engine_keys(schedule: Schedule, protocol: Protocol) -> set[tuple[str, str, str | None, str | None]]:
    report = validate(schedule, protocol)
    return {(f.rule, f.severity.value, f.patient, f.session) for f in report.findings}


def _picker(data: st.DataObject):
    return lambda options: data.draw(st.sampled_from(list(options)))


@pytest.mark.parametrize("template", list(TEMPLATES))
@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_engine_agrees_with_reference_for_each_template(template: str,
                                                         data: st.DataObject) -> None:
    """Each template over its whole parameter space (random rules of it)."""
    pick = _picker(data)
    schedule = build(pick)
    protocol = template_protocol(pick, template)
    check_protocol(protocol)
    assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_engine_agrees_with_reference_on_the_whole_protocol(data: st.DataObject) -> None:
    pick = _picker(data)
    schedule = build(pick)
    protocol = protocol_variant(pick)
    assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_alike_patients_are_each_judged_under_their_own_ids(data: st.DataObject) -> None:
    """Every patient again under new ids, whole days later: the copies' batches are the
    originals' byte for byte, so the engine answers them from what it found for the
    originals, and each finding must still name the copy's own sessions."""
    pick = _picker(data)
    schedule = build(pick)
    shift = timedelta(days=pick([1, 7, 400]))
    copies = tuple(attrs.evolve(s, id=f"{s.id}x", patient=f"{s.patient}x",
                                patients=tuple(f"{p}x" for p in s.patients),
                                start=s.start + shift, end=s.end + shift)
                   for s in schedule.sessions)
    doubled = attrs.evolve(
        schedule, sessions=schedule.sessions + copies,
        patients=schedule.patients + tuple(attrs.evolve(p, id=f"{p.id}x")
                                           for p in schedule.patients))
    protocol = protocol_variant(pick)
    assert engine_keys(doubled, protocol) == evaluate(doubled, protocol)


@settings(max_examples=max(20, EXAMPLES_PER_RULE // 2))
@given(data=st.data())
def test_a_closed_memo_asserts_each_batch_under_its_own_ids(data: st.DataObject) -> None:
    """With the memo closed after its first batch (as it closes for parts whose batches
    seldom repeat), every later batch is asserted under its own ids."""
    pick = _picker(data)
    schedule = build(pick)
    protocol = protocol_variant(pick)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "MEMO_TRIAL", 1)
        assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


@pytest.mark.parametrize("name", shipped_protocols())
@settings(max_examples=max(20, EXAMPLES_PER_RULE // 4))
@given(data=st.data())
def test_engine_agrees_with_reference_on_every_shipped_protocol(name: str,
                                                               data: st.DataObject) -> None:
    schedule = build(_picker(data))
    protocol = load_protocol(name)
    assert engine_keys(schedule, protocol) == evaluate(schedule, protocol)


def test_generated_schedules_exercise_both_outcomes_of_every_template() -> None:
    """The generators are not vacuous: every template both flags and passes anchors."""
    rng = random.Random(20261129)
    flagged: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for n in range(60 * len(TEMPLATES)):
        template = list(TEMPLATES)[n % len(TEMPLATES)]
        schedule = build(rng.choice)
        protocol = template_protocol(rng.choice, template)
        expected = evaluate(schedule, protocol)
        assert engine_keys(schedule, protocol) == expected
        if expected:
            flagged[template] += 1
        else:
            kept[template] += 1
    for template in TEMPLATES:
        assert flagged[template] >= 5, f"{template} rarely flagged: {flagged[template]}"
        assert kept[template] >= 5, f"{template} rarely kept: {kept[template]}"


@pytest.mark.parametrize(("min_hours_after", "window_hours"),
                         [(0, 24), (1, 24), (24, 36.5), (0, 72), (47, 72), (0, 720), (24, 720)])
def test_a_window_after_each_anchor_is_decided_to_the_second_across_utc_midnight(
        min_hours_after: float, window_hours: float) -> None:
    """after-each sends each anchor with the sessions starting on the UTC days its window
    touches: a window's bound on, just before or just after a UTC midnight, and a
    session one second inside or outside it, are the engine's to decide, and match the
    reference (one patient per case, so each case stands alone)."""
    utc = ZoneInfo("UTC")
    midnight = datetime(2026, 3, 10, tzinfo=utc)
    lo, hi = timedelta(hours=min_hours_after), timedelta(hours=window_hours)
    sessions, expected = [], set()
    case = 0
    for bound in (lo, hi):
        for edge in (-1, 0, 1):  # the bound one second before, on, after a midnight
            for offset in (-1, 0, 1):  # the session one second before, on, after it
                case += 1
                end = midnight + timedelta(days=case * 40, seconds=edge) - bound
                start = end - timedelta(hours=2)
                at = end + bound + timedelta(seconds=offset)
                pid = f"P{case:02d}"
                dose = Session(id=f"D{case:02d}", patient=pid, kind=Kind.DOSING, start=start,
                               end=end, clinician="c0", zone="UTC")
                sessions += [dose, Session(id=f"I{case:02d}", patient=pid,
                                           kind=Kind.INTEGRATION, start=at,
                                           end=at + timedelta(minutes=50), clinician="c0",
                                           modality="CBT", zone="UTC")]
    # A dense course (a dose and an integration session daily): with a long window its
    # anchors go to the engine as one batch. The first integration session starts on
    # the first dose's window's opening second; the last, on the last dose's closing
    # second, is that dose's only witness; each other starts a second before its own
    # dose's window opens, where it may still serve earlier doses.
    case += 1
    for day in range(12):
        end = midnight + timedelta(days=case * 40 + day, hours=11)
        at = end + (lo if day == 0 else hi if day == 11 else lo - timedelta(seconds=1))
        sessions += [Session(id=f"D{case:02d}-{day:02d}", patient=f"P{case:02d}",
                             kind=Kind.DOSING, start=end - timedelta(hours=2), end=end,
                             clinician="c0", zone="UTC"),
                     Session(id=f"I{case:02d}-{day:02d}", patient=f"P{case:02d}",
                             kind=Kind.INTEGRATION, start=at, end=at + timedelta(minutes=50),
                             clinician="c0", modality="CBT", zone="UTC")]
    for dose in sessions:
        if dose.kind is Kind.DOSING and not any(
                lo <= s.start - dose.end <= hi for s in sessions
                if s.kind is Kind.INTEGRATION and s.patient == dose.patient):
            expected.add(dose.id)
    schedule = Schedule(clinicians=(Clinician("c0", frozenset({Role.PRESCRIBER})),),
                        patients=tuple(Patient(f"P{i:02d}", ("F33.2",))
                                       for i in range(1, case + 1)),
                        sessions=tuple(sessions), timezone="UTC")
    rule = attrs.evolve(load_protocol("kap").rule("KAP-INT-001"), parameters={
        "anchor": "dosing", "kind": "integration", "min_sessions": 1,
        "min_hours_after": min_hours_after, "window_hours": window_hours})
    protocol = attrs.evolve(load_protocol("kap"), rules=(rule,))
    found = engine_keys(schedule, protocol)
    assert {session for *_, session in found} == expected
    assert found == evaluate(schedule, protocol)


def test_what_a_template_remembers_of_a_view_is_that_view_s_alone() -> None:
    """A run-wide template reads a view's sessions once for its facts and its verdict
    (``per_view``): never for another view or other arguments, and it does not keep a
    finished run alive."""
    import gc
    import weakref

    from kapcheck.rules.base import View, per_view

    calls: list[tuple[str, int]] = []

    @per_view
    def read(view: View, arg: int) -> list[str]:
        calls.append((view.key, arg))
        return [view.key]

    protocol = load_protocol("kap")
    schedule = build(random.Random(7).choice)

    def view(key: str) -> View:
        return View(key=key, sessions=schedule.sessions, schedule=schedule,
                    diagnoses=protocol.diagnoses, origin=datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")))

    first, second = view("first"), view("second")
    assert read(first, 1) is read(first, 1)
    assert read(second, 1) == ["second"] and read(first, 2) == ["first"]
    assert calls == [("first", 1), ("second", 1), ("first", 2)]
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None
    assert read(view("third"), 2) == ["third"]


def _free_then(schedule: Schedule, anchor: Session, clinician: str) -> list[str]:
    """By definition: the roster's first three clinicians (in its order) who share a role
    with the double-booked clinician and have no session overlapping the anchor (a
    co-therapist of the anchor is in it)."""
    roles = schedule.clinician_by_id[clinician].roles
    return [c.id for c in schedule.clinicians
            if c.roles & roles and not any(c.id in o.clinicians and o.start < anchor.end
                                           and anchor.start < o.end
                                           for o in schedule.sessions)][:3]


def _assert_suggestions_name_the_free(schedule: Schedule) -> int:
    report = validate(schedule, load_protocol("kap"))
    anchors = {s.id: s for s in schedule.sessions}
    seen = 0
    for f in report.findings:
        if f.rule == "KAP-CLIN-001":
            clinician = f.message.split(" ", 2)[1]  # "Clinician c1 is double-booked: ..."
            free = _free_then(schedule, anchors[f.session], clinician)
            if free:
                assert f.suggestion.endswith(f" free then: {', '.join(free)}."), f.suggestion
            else:
                assert f.suggestion.endswith(" is free then)."), f.suggestion
            seen += 1
    return seen


@settings(max_examples=EXAMPLES_PER_RULE)
@given(data=st.data())
def test_a_double_booking_names_the_colleagues_free_then(data: st.DataObject) -> None:
    """A clinician's double booking suggests the first colleagues of the roster who share
    a role and have no session overlapping it: looked up in each clinician's sessions in
    order, as the definition says looking at every session of the run. A view given
    without the run's clinicians' sessions (``peers``) finds them in the schedule."""
    from kapcheck.rules.templates.clinician_overlap import _busy
    from kapcheck.rules.validate import _views

    schedule = build(_picker(data), max_sessions=16)
    _assert_suggestions_name_the_free(schedule)
    for view in _views(schedule, load_protocol("kap"))[Partition.CLINICIAN]:
        bare = attrs.evolve(view, peers=None)
        for s in view.sessions:
            for c in schedule.clinicians:
                busy = any(c.id in o.clinicians and o.start < s.end and s.start < o.end
                           for o in schedule.sessions)
                assert _busy(view, c.id, s) == _busy(bare, c.id, s) == busy


def test_a_colleague_is_free_when_a_day_long_session_ends_as_the_booking_starts() -> None:
    """The lookup stops at a session starting a longest session's length (24 hours)
    before the booking: one of 24 hours ending as it starts leaves its clinician free,
    one ending a second later does not, and one starting as it ends is no overlap."""
    utc = ZoneInfo("UTC")
    at = datetime(2026, 3, 10, 9, 0, tzinfo=utc)
    day, hour, second = timedelta(hours=24), timedelta(hours=1), timedelta(seconds=1)
    therapists = [Clinician(cid, frozenset({Role.THERAPIST}))
                  for cid in ("t-busy", "t-ends-then", "t-ends-after", "t-free", "t-later")]

    def session(sid: str, cid: str, start: datetime, length: timedelta) -> Session:
        return Session(id=sid, patient="P1", kind=Kind.PSYCHOTHERAPY, start=start,
                       end=start + length, clinician=cid, modality="CBT")

    schedule = Schedule(
        clinicians=tuple(therapists), patients=(Patient("P1", ("F33.2",)),),
        sessions=(session("A", "t-busy", at - hour / 2, hour), session("B", "t-busy", at, hour),
                  session("C", "t-ends-then", at - day, day),
                  session("D", "t-ends-after", at - day + second, day),
                  session("E", "t-later", at + hour, hour)),
        timezone="UTC")
    assert _assert_suggestions_name_the_free(schedule) == 1
    report = validate(schedule, load_protocol("kap"))
    (finding,) = [f for f in report.findings if f.rule == "KAP-CLIN-001"]
    assert finding.suggestion.endswith("free then: t-ends-then, t-free, t-later.")


@settings(max_examples=200)
@given(times=st.lists(st.tuples(
    st.builds(lambda h, d: max(0, h * 3600 + d), st.integers(0, 5 * 24), st.sampled_from([-1, 0, 1])),
    st.builds(lambda h, d: h * 3600 + d, st.integers(1, 24), st.sampled_from([-1, 0, 1]))),
    max_size=12))
def test_day_windows_are_each_days_sessions_after_those_still_running(
        times: list[tuple[int, int]]) -> None:
    """The overlap join's windows by their definition: for each UTC day on which a
    session starts, the earlier sessions still running when the day opens, then the
    day's own, in order; a window of one session is not given."""
    from types import SimpleNamespace

    from kapcheck.rules.overlap import day_windows

    ordered = sorted((SimpleNamespace(id=f"S{n}", start_s=start, end_s=start + length)
                      for n, (start, length) in enumerate(times)),
                     key=lambda s: (s.start_s, s.id))
    expected = []
    for day in sorted({s.start_s // 86400 for s in ordered}):
        opens = day * 86400
        window = ([s for s in ordered if s.start_s < opens < s.end_s]
                  + [s for s in ordered if s.start_s // 86400 == day])
        if len(window) > 1:
            expected.append(tuple(window))
    assert list(day_windows(ordered)) == expected  # type: ignore[arg-type]
