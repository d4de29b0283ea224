"""durable_rules knows a fact by a 32-bit FNV-1a hash of its ``id``: two ids with one hash
in a batch are one fact, and ``assert_facts`` answers 2. The engine asserts every fact
under a positional id of its own, never under the input's text; these tests hold it to
that with texts whose hashes collide, and with random ids against the reference."""

from __future__ import annotations

import itertools
import os
import string

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import engine, validate

from .generate import build, protocol_variant
from .helpers import document, write
from .reference import evaluate

EXAMPLES = max(20, int(os.environ.get("KAPCHECK_EXAMPLES", "500")) // 4)

_BASIS, _PRIME = 0x811C9DC5, 0x01000193


def fnv1a(text: str, h: int = _BASIS) -> int:
    """durable_rules' hash of a fact id (``getStringAndHash`` in its json.c)."""
    for byte in text.encode():
        h = ((h ^ byte) * _PRIME) & 0xFFFFFFFF
    return h


def colliding(prefix: str) -> tuple[str, str]:
    """Two different texts, both starting with ``prefix``, with one FNV-1a hash (a
    birthday search over eight-letter suffixes: about 2^16 tries)."""
    start = fnv1a(prefix)
    seen: dict[int, str] = {}
    for letters in itertools.product(string.ascii_uppercase + string.digits, repeat=8):
        suffix = "".join(letters)
        h = fnv1a(suffix, start)
        if h in seen:
            return prefix + seen[h], prefix + suffix
        seen[h] = suffix
    raise AssertionError("no collision found")  # pragma: no cover


def test_the_issue_s_two_modalities_share_a_hash() -> None:
    assert fnv1a("use:0:7GKKIFZB") == fnv1a("use:0:3HXEGIPY")


def test_every_position_of_a_batch_has_its_own_hash() -> None:
    hashes = {fnv1a(f"#{i}") for i in range(engine.MAX_BATCH_FACTS)}
    assert len(hashes) == engine.MAX_BATCH_FACTS


def test_modalities_whose_fact_ids_once_collided_are_each_judged(tmp_path) -> None:
    """The 466-byte schedule that made the engine fail (exit 3, a 500 and a stopped
    service): two psychotherapy sessions, one modality each, neither in the map."""
    path = write(tmp_path, document([
        {"id": "S-1", "patient": "P-001", "kind": "psychotherapy", "modality": "7GKKIFZB",
         "start": "2026-03-02T09:00", "duration": "50m", "clinician": "t-ortiz"},
        {"id": "S-2", "patient": "P-001", "kind": "psychotherapy", "modality": "3HXEGIPY",
         "start": "2026-03-03T09:00", "duration": "50m", "clinician": "t-ortiz"},
    ]))
    report = validate(load_schedule(path), load_protocol("kap"))
    assert [(f.rule, f.session) for f in report.findings] == [
        ("KAP-MOD-001", "S-1"), ("KAP-MOD-001", "S-2")]


def test_ids_whose_hashes_collide_are_different_sessions_patients_and_clinicians(
        tmp_path) -> None:
    s1, s2 = colliding("S-")
    p1, p2 = colliding("P-")
    c1, c2 = colliding("dr-")
    m1, m2 = colliding("M")
    doc = document([
        {"id": s1, "patient": p1, "kind": "dosing", "route": "IV",
         "start": "2026-03-04T10:00", "duration": "2h", "clinician": c1},
        {"id": s2, "patient": p2, "kind": "dosing", "route": "IV",
         "start": "2026-03-04T11:00", "duration": "2h", "clinician": c2},
        {"id": f"{s1}i", "patient": p1, "kind": "integration", "modality": m1,
         "start": "2026-03-05T10:00", "duration": "50m", "clinician": "t-ortiz"},
        {"id": f"{s2}i", "patient": p2, "kind": "integration", "modality": m2,
         "start": "2026-03-05T10:00", "duration": "50m", "clinician": "t-ortiz"},
    ])
    doc["patients"] = [{"id": p1, "diagnoses": ["F33.2"]}, {"id": p2, "diagnoses": ["F43.10"]}]
    doc["clinicians"] += [{"id": c1, "roles": ["prescriber"]}, {"id": c2, "roles": ["nurse"]}]
    schedule = load_schedule(write(tmp_path, doc))
    protocol = load_protocol("kap")
    keys = {(f.rule, f.severity.value, f.patient, f.session)
            for f in validate(schedule, protocol).findings}
    assert keys == evaluate(schedule, protocol)
    # Both patients' integration sessions are judged for their own modality, and the
    # therapist's two integration sessions at one time are a double booking.
    assert ("KAP-MOD-001", "error", p1, f"{s1}i") in keys
    assert ("KAP-MOD-001", "error", p2, f"{s2}i") in keys
    assert any(k[0] == "KAP-CLIN-001" for k in keys)


_ID = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                     blacklist_categories=("Cs", "Cc")),
              min_size=1, max_size=12).filter(str.strip)


@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_any_ids_give_the_reference_s_findings(data: st.DataObject) -> None:
    """Every id and modality of a generated schedule replaced by random text."""
    pick = lambda options: data.draw(st.sampled_from(list(options)))  # noqa: E731
    schedule = build(pick)
    sessions, patients = schedule.sessions, schedule.patients
    names = data.draw(st.lists(_ID, min_size=len(sessions) + len(patients),
                               max_size=len(sessions) + len(patients), unique=True))
    new_session = dict(zip([s.id for s in sessions], names, strict=False))
    new_patient = dict(zip([p.id for p in patients], names[len(sessions):], strict=True))
    modality = data.draw(st.dictionaries(st.sampled_from(["CBT", "PDT", "PE", "CPT"]), _ID))
    renamed = attrs.evolve(
        schedule,
        sessions=tuple(attrs.evolve(s, id=new_session[s.id], patient=new_patient[s.patient],
                                    patients=tuple(new_patient[p] for p in s.patients),
                                    modality=modality.get(s.modality or "", s.modality))
                       for s in sessions),
        patients=tuple(attrs.evolve(p, id=new_patient[p.id]) for p in patients))
    protocol = protocol_variant(pick)
    keys = {(f.rule, f.severity.value, f.patient, f.session)
            for f in validate(renamed, protocol).findings}
    assert keys == evaluate(renamed, protocol)


def test_many_diagnoses_per_patient_grow_the_engine_s_work_with_the_input(tmp_path) -> None:
    """420 patients with 50 codes each (the issue's 328 KB schedule took 11 s and 1.2 GB):
    each distinct diagnosis set is a batch of its own, so no batch holds more than one
    set's codes and the facts asserted grow with the codes, not their combinations."""
    pool = [f"Z{10 + i // 10}.{i % 10}" for i in range(200)]
    patients, sessions = [], []
    for n in range(420):
        pid = f"P-{n}"
        patients.append({"id": pid,
                         "diagnoses": ["F33.1", *[pool[(n + k) % 200] for k in range(49)]]})
        sessions.append({"id": f"S-{n}", "patient": pid, "kind": "psychotherapy",
                         "modality": "CBT", "start": f"2026-03-{1 + n % 28:02d}T09:00",
                         "duration": "30m", "clinician": f"t-{n}"})
    doc = document(sessions)
    doc["patients"] = patients
    doc["clinicians"] = [{"id": f"t-{n}", "roles": ["therapist"]} for n in range(420)]
    schedule = load_schedule(write(tmp_path, doc))
    protocol = load_protocol("kap")
    before = engine.work_done()
    report = validate(schedule, protocol)
    batches, facts, largest = (a - b for a, b in zip(engine.work_done(), before, strict=True))
    assert report.findings == ()  # F33.1 allows CBT for every patient
    # No batch holds more than one set's code prefixes (four a code at most), the map
    # and a use; all the facts are at most that for each of the 220 distinct sets, twice
    # (modality map and diagnosis coverage).
    assert largest <= 50 * 4 + 20
    assert facts <= 2 * 220 * (50 * 4 + 20)
    assert batches <= 2 * 220 + 500
