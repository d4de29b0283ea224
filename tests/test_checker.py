"""Checker: a proposal's report equals validating the changed schedule from scratch, and
its change equals the difference of the two reports, for random proposals on random
schedules, across commits; bad proposals are input errors, never a silent pass."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import ScheduleError, Waiver, load_protocol, load_schedule
from kapcheck.rules import Checker, validate
from kapcheck.rules.checker import changes, identity

from .generate import KINDS, ROOMS, build, protocol_variant
from .helpers import compliant_course, document, write

EXAMPLES = max(30, int(os.environ.get("KAPCHECK_EXAMPLES", "500")) // 3)


def full(report: Any) -> list[tuple[Any, ...]]:
    return [(f.rule, f.severity, f.patient, f.session, f.message, f.suggestion, f.related,
             f.waiver) for f in report.findings]


def random_proposal(pick: Any, schedule: Any, serial: int) -> dict[str, list[Any]]:
    sessions = list(schedule.sessions)
    add, move, cancel = [], [], []
    for _ in range(pick([0, 1, 1, 2])):
        base = pick(sessions) if sessions else None
        if base is None:
            break
        kind = pick(KINDS)
        start = base.start + pick([timedelta(hours=h) for h in (-72, -48, -1, 0, 1, 2, 24, 71, 72)])
        new: dict[str, Any] = {
            "id": f"NEW-{serial}-{len(add)}", "patient": base.patient, "kind": kind,
            "start": start.isoformat(), "duration": pick(["50m", "2h", "119m"]),
            "clinician": pick(schedule.clinicians).id,
            **({"modality": pick(["CBT", "PE", "EMDR"])}
               if kind in ("integration", "psychotherapy") else {})}
        # A group, co-therapists and a room (SPEC §11), sometimes.
        others = [p.id for p in schedule.patients if p.id != base.patient]
        if others and pick([False, False, True]):
            new["patients"] = [new.pop("patient"), *others[:pick([1, 2])]]
        if len(schedule.clinicians) > 1 and pick([False, False, True]):
            new["clinicians"] = [c.id for c in schedule.clinicians[:pick([2, 3])]]
            new.pop("clinician")
        room = pick(ROOMS)
        if room is not None:
            new["room"] = room
        add.append(new)
    chosen = set()
    for _ in range(pick([0, 1, 1, 2])):
        if not sessions:
            break
        s = pick(sessions)
        if s.id in chosen:
            continue
        chosen.add(s.id)
        change: dict[str, Any] = {"id": s.id}
        what = pick(["start", "clinician", "both", "end", "room", "team"])
        if what == "room":
            change["room"] = pick(["A", "B", "Room A"])
        if what == "team" and len(schedule.clinicians) > 1:
            change["clinicians"] = [c.id for c in schedule.clinicians[-2:]]
        if what in ("start", "both"):
            change["start"] = (s.start + pick([timedelta(hours=h) for h in (-48, -24, 1, 47, 72)])
                               ).isoformat()
        if what in ("clinician", "both"):
            change["clinician"] = pick(schedule.clinicians).id
        if what == "end":
            change["duration"] = pick(["1h", "2h", "3h"])
        move.append(change)
    for _ in range(pick([0, 0, 1])):
        if not sessions:
            break
        s = pick(sessions)
        if s.id not in chosen:
            chosen.add(s.id)
            cancel.append(s.id)
    return {"add": add, "move": move, "cancel": cancel}


@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_proposals_equal_validating_the_changed_schedule(data: st.DataObject) -> None:
    pick = lambda options: data.draw(st.sampled_from(list(options)))  # noqa: E731
    schedule = build(pick)
    if pick([False, True]) and schedule.sessions:
        s = pick(schedule.sessions)
        schedule = attrs.evolve(schedule, waivers=(
            Waiver(rule=pick(["KAP-INT-001", "KAP-OVL-001", "KAP-MON-001"]), reason="r",
                   approved_by="dr", session=s.id),))
    protocol = protocol_variant(pick)
    checker = Checker(schedule, protocol, as_of=None)
    assert full(checker.report) == full(validate(schedule, protocol))
    for step in range(pick([1, 2, 3])):
        try:
            change = checker.propose(**random_proposal(pick, checker.schedule, step))
        except ScheduleError:
            continue  # a proposal that breaks an invariant (e.g. a session too long)
        expected = validate(change.schedule, protocol)
        assert full(change.report) == full(expected)
        introduced, resolved = changes(checker.report, expected)
        assert [identity(f) for f in change.introduced] == [identity(f) for f in introduced]
        assert [identity(f) for f in change.resolved] == [identity(f) for f in resolved]
        if pick([True, False]):
            checker.commit(change)
            assert full(checker.report) == full(expected)


@pytest.fixture
def checker(tmp_path: Path) -> Checker:
    return Checker(load_schedule(write(tmp_path, document(compliant_course()))),
                   load_protocol("kap"))


def test_booking_the_missing_integration_resolves_the_finding(tmp_path: Path) -> None:
    course = compliant_course()[:3]  # no integration after S-3
    checker = Checker(load_schedule(write(tmp_path, document(course))), load_protocol("kap"))
    assert [f.rule for f in checker.report.findings] == ["KAP-INT-001"]
    change = checker.propose(add=[{"id": "S-9", "patient": "P-001", "kind": "integration",
                                   "modality": "CBT", "start": "2026-03-05T10:00",
                                   "duration": "50m", "clinician": "t-ortiz"}])
    assert [f.rule for f in change.resolved] == ["KAP-INT-001"]
    assert change.introduced == () and change.report.compliant and not change.fails()
    assert checker.report.findings  # propose changed nothing


def test_proposal_problems_are_all_listed(checker: Checker) -> None:
    with pytest.raises(ScheduleError) as err:
        checker.propose(add=[{"id": "S-1", "patient": "P-404", "kind": "dozing",
                              "start": "2026-03-05T10:00", "duration": "1h",
                              "clinician": "t-ortiz"}],
                        move=[{"id": "S-404", "start": "2026-03-05T10:00"}],
                        cancel=["S-405"])
    text = str(err.value)
    for expected in ("add[0].kind", "move[0].id: no booked session with id 'S-404'",
                     "cancel[0]: no booked session with id 'S-405'"):
        assert expected in text, text


def test_a_hand_built_session_of_an_unknown_patient_is_refused(checker: Checker) -> None:
    s = checker.schedule.sessions[2]
    with pytest.raises(ScheduleError, match="no patient with id 'nobody'"):
        checker.propose(add=[attrs.evolve(s, id="S-new", patient="nobody")])


def test_a_move_keeps_the_sessions_length(checker: Checker) -> None:
    change = checker.propose(move=[{"id": "S-3", "start": "2026-03-04T11:00"}])
    moved = change.schedule.session_by_id["S-3"]
    assert moved.end - moved.start == timedelta(hours=2)


def test_a_change_from_another_booking_cannot_be_committed(checker: Checker) -> None:
    first = checker.propose(cancel=["S-1"])
    second = checker.propose(cancel=["S-2"])
    checker.commit(first)
    with pytest.raises(ValueError):
        checker.commit(second)


def _network(patients: int) -> Any:
    """``patients`` alike courses, each with clinicians of its own, a week apart: a
    touched patient's and clinician-day's sessions are alike whatever the size."""
    from kapcheck.protocol import Clinician, Patient, Role, Schedule, Session
    from kapcheck.protocol.model import Kind

    base = load_schedule(write_course_file())
    sessions, roster, people = [], [], []
    for n in range(patients):
        shift = timedelta(days=7 * n)
        for s in base.sessions:
            sessions.append(Session(id=f"{s.id}-{n}", patient=f"P-{n}", kind=Kind(s.kind),
                                    start=s.start + shift, end=s.end + shift,
                                    clinician=f"{s.clinician}-{n}", modality=s.modality,
                                    route=s.route))
        people.append(Patient(id=f"P-{n}", diagnoses=("F33.2",)))
    for c in base.clinicians:
        roster += [Clinician(id=f"{c.id}-{k}", roles=c.roles) for k in range(patients)]
    assert all(isinstance(r, Role) for c in roster for r in c.roles)
    return Schedule(sessions=tuple(sessions), patients=tuple(people), clinicians=tuple(roster),
                    timezone=base.timezone)


def write_course_file() -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    return write(folder, document(compliant_course()))


@pytest.mark.parametrize("patients", [200, 2000])
def test_a_proposal_reads_what_it_touches_not_the_schedule(patients: int) -> None:
    """The guard of issue 25: a proposal never applies itself to the whole schedule nor
    asks for its sessions, and the engine's work for it is the same on a network ten
    times larger."""
    from kapcheck.protocol.proposals import Proposal
    from kapcheck.rules import engine
    from kapcheck.rules.checker import _Proposed

    schedule = _network(patients)
    checker = Checker(schedule, load_protocol("kap"))
    first = schedule.sessions[4]
    proposal = {"add": [{"id": "NEW-1", "patient": first.patient, "kind": "integration",
                         "modality": "CBT", "start": (first.end + timedelta(hours=30)).isoformat(),
                         "duration": "50m", "clinician": first.clinician}],
                "move": [{"id": schedule.sessions[2].id,
                          "start": (schedule.sessions[2].start + timedelta(hours=1)).isoformat()}],
                "cancel": [schedule.sessions[-1].id]}

    def refuse(*args: Any) -> Any:
        raise AssertionError("a proposal walked the whole schedule")

    before = engine.work_done()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Proposal, "apply", refuse)
        patch.setattr(_Proposed, "sessions", property(refuse))
        change = checker.propose(**proposal)
    batches, facts, _ = (a - b for a, b in zip(engine.work_done(), before, strict=True))
    WORK[patients] = (batches, facts)
    assert change.report.sessions == len(schedule.sessions) + 1 - 1
    if len(WORK) == 2:
        assert WORK[200] == WORK[2000]


WORK: dict[int, tuple[int, int]] = {}


def test_after_a_commit_that_resolves_a_double_booking_the_waivers_path_agrees() -> None:
    """A commit forgets the findings of the scopes it judged again: a resolved double
    booking does not come back in a later proposal's report (schedules with waivers are
    judged whole from the findings by scope)."""
    from datetime import date

    root = Path(__file__).resolve().parent.parent / "examples"
    schedule = load_schedule(root / "riverside.yaml", waivers=root / "riverside-waivers.yaml")
    protocol = load_protocol("kap")
    checker = Checker(schedule, protocol, as_of=date(2026, 3, 1))
    assert any(f.rule == "KAP-CLIN-001" for f in checker.report.findings)
    first = checker.propose(cancel=["S-502"])
    assert any(f.rule == "KAP-CLIN-001" for f in first.resolved)
    checker.commit(first)
    later = checker.propose(cancel=["S-201"])  # another day, clinician and patient
    expected = validate(later.schedule, protocol, as_of=date(2026, 3, 1))
    assert full(later.report) == full(expected)
