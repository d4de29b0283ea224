"""iCalendar schedules: the same clinic as a calendar gives the same findings; recurring
events expand (less EXDATE, up to --until) into ids UID@<UTC start>; every problem names
the event's UID and line."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kapcheck.protocol import Schedule, ScheduleError, load_protocol, load_schedule
from kapcheck.rules import validate

from .generate import build, protocol_variant

ROSTER = ("clinicians: [{id: dr-lee, roles: [prescriber]}, {id: t-ortiz, roles: [therapist]}]\n"
          "patients: [{id: P-001, diagnoses: [F33.2]}]\n")


def to_ics(schedule: Schedule) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//kapcheck tests//EN",
             f"X-WR-TIMEZONE:{schedule.timezone}"]
    for s in schedule.sessions:
        lines += ["BEGIN:VEVENT", f"UID:{s.id}",
                  f"DTSTART:{s.start:%Y%m%dT%H%M%SZ}", f"DTEND:{s.end:%Y%m%dT%H%M%SZ}",
                  "CATEGORIES:" + ",".join([s.kind.value.upper()]
                                           + ([s.modality] if s.modality else [])),
                  f"X-KAPCHECK-PATIENT:{';'.join(s.patients)}",
                  f"ORGANIZER;CN={s.clinician}:mailto:{s.clinician}@clinic.example",
                  # co-therapists: attendees who are clinicians of the roster
                  *[f"ATTENDEE;CN={cid}:mailto:{cid}@clinic.example"
                    for cid in s.clinicians[1:]],
                  *([f"LOCATION:{s.room}"] if s.room else []),
                  "END:VEVENT"]
    return "\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n"


def roster_of(schedule: Schedule) -> str:
    clinicians = ", ".join(f"{{id: {c.id}, roles: [{', '.join(r.value for r in c.roles)}]}}"
                           for c in schedule.clinicians)
    patients = ", ".join(f"{{id: {p.id}, diagnoses: [{', '.join(p.diagnoses)}]}}"
                         for p in schedule.patients)
    return f"timezone: {schedule.timezone}\nclinicians: [{clinicians}]\npatients: [{patients}]\n"


def keys(report: object) -> list[tuple[object, ...]]:
    return [(f.rule, f.patient, f.session, f.message, f.suggestion)
            for f in report.findings]  # type: ignore[attr-defined]


def test_generated_clinics_give_the_same_findings_as_calendars(tmp_path: Path) -> None:
    rng = random.Random(5545)
    for n in range(60):
        schedule = build(rng.choice)
        protocol = protocol_variant(rng.choice)
        (tmp_path / "r.yaml").write_text(roster_of(schedule))
        (tmp_path / "c.ics").write_text(to_ics(schedule))
        loaded = load_schedule([tmp_path / "r.yaml", tmp_path / "c.ics"])
        assert keys(validate(loaded, protocol)) == keys(validate(schedule, protocol)), n


def calendar(tmp_path: Path, *events: str, header: str = "X-WR-TIMEZONE:America/New_York"
             ) -> list[Path]:
    (tmp_path / "roster.yaml").write_text(ROSTER)
    body = "\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", header, *events,
                      "END:VCALENDAR"])
    (tmp_path / "c.ics").write_text(body + "\n")
    return [tmp_path / "roster.yaml", tmp_path / "c.ics"]


WEEKLY = """BEGIN:VEVENT
UID:cbt-weekly
DTSTART:20260302T100000
DURATION:PT50M
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE:20260316T100000
CATEGORIES:psychotherapy,CBT
ATTENDEE;ROLE=REQ-PARTICIPANT;CN=P-001:mailto:p1@example.org
ORGANIZER;CN=t-ortiz:mailto:therapist@example.org
END:VEVENT"""


def test_a_weekly_series_expands_across_the_daylight_saving_change(tmp_path: Path) -> None:
    schedule = load_schedule(calendar(tmp_path, WEEKLY))
    assert sorted(s.id for s in schedule.sessions) == [
        "cbt-weekly@20260302T150000Z", "cbt-weekly@20260309T140000Z",
        "cbt-weekly@20260323T140000Z"]  # 10:00 local, EST then EDT; the 16th excluded
    assert {(s.patient, s.clinician, s.modality) for s in schedule.sessions} == \
        {("P-001", "t-ortiz", "CBT")}


def test_until_bounds_the_expansion_of_recurring_events_only(tmp_path: Path) -> None:
    single = """BEGIN:VEVENT
UID:late
DTSTART;TZID=America/New_York:20270101T090000
DTEND;TZID=America/New_York:20270101T100000
CATEGORIES:assessment
X-KAPCHECK-PATIENT:P-001
ORGANIZER:mailto:dr-lee@example.org
END:VEVENT"""
    from datetime import date

    schedule = load_schedule(calendar(tmp_path, WEEKLY, single), until=date(2026, 3, 9))
    assert sorted(s.id for s in schedule.sessions) == [
        "cbt-weekly@20260302T150000Z", "cbt-weekly@20260309T140000Z", "late"]


def test_cancelled_events_are_not_sessions(tmp_path: Path) -> None:
    event = WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n",
                           "STATUS:CANCELLED\n")
    assert load_schedule(calendar(tmp_path, event)).sessions == ()


@pytest.mark.parametrize(("change", "expected"), [
    (("CATEGORIES:psychotherapy,CBT", "CATEGORIES:CBT"), "CATEGORIES: expected a code naming"),
    (("CATEGORIES:psychotherapy,CBT", "CATEGORIES:psychoterapy,CBT"),
     "did you mean 'psychotherapy'?"),
    (("ATTENDEE;ROLE=REQ-PARTICIPANT;CN=P-001:mailto:p1@example.org", ""),
     "ATTENDEE: expected X-KAPCHECK-PATIENT"),
    (("ORGANIZER;CN=t-ortiz:mailto:therapist@example.org", ""), "ORGANIZER: expected"),
    (("DTSTART:20260302T100000", "DTSTART;VALUE=DATE:20260302"), "all-day event"),
])
def test_an_event_missing_what_a_session_needs_is_named_by_uid_and_line(
        tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    event = WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n", "")
    event = event.replace(*change)
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, event))
    assert "VEVENT cbt-weekly (line 6)" in str(err.value) and expected in str(err.value)


def test_floating_times_need_a_timezone(tmp_path: Path) -> None:
    event = WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n", "")
    with pytest.raises(ScheduleError, match="floating time"):
        load_schedule(calendar(tmp_path, event, header="X-NOTHING:1"))
    paths = calendar(tmp_path, event, header="X-NOTHING:1")
    schedule = load_schedule(paths, timezone="Europe/London")
    assert schedule.sessions[0].start.hour == 10  # 10:00 GMT is 10:00 UTC


def test_a_calendar_is_recognised_by_its_content(tmp_path: Path) -> None:
    paths = calendar(tmp_path, WEEKLY)
    renamed = paths[1].with_name("export.txt")
    paths[1].rename(renamed)
    report = validate(load_schedule([paths[0], renamed]), load_protocol("kap"))
    assert report.sessions == 3


# --- Published examples (tests/data/ical, see its README) -------------------------------

DATA = Path(__file__).resolve().parent / "data" / "ical"


@pytest.mark.parametrize(("name", "expected"), [
    ("rfc5545-4-conference.ics", [
        "VEVENT uid1@example.com (line 6).CATEGORIES: expected a code naming a session kind",
        "VEVENT uid1@example.com (line 6).ATTENDEE: expected X-KAPCHECK-PATIENT"]),
    ("rfc5545-4-project-review.ics", [
        "VEVENT guid-1.example.com (line 21).CATEGORIES: expected a code"]),
    ("rfc5545-3.6.1-events.ics", [
        "VEVENT 19970901T130000Z-123401@example.com (line 5).ORGANIZER: expected",
        "VEVENT 19970901T130000Z-123402@example.com (line 14).CATEGORIES: expected",
        "VEVENT 19970901T130000Z-123403@example.com (line 24).DTSTART: an all-day event is "
        "not a session"]),
])
def test_the_rfc_5545_examples_are_clear_input_errors(name: str, expected: list[str]) -> None:
    with pytest.raises(ScheduleError) as err:
        load_schedule(DATA / name)
    for text in expected:
        assert text in str(err.value), str(err.value)


def test_the_rfc_5545_vtimezone_example_is_read_at_its_published_time(tmp_path: Path) -> None:
    """The RFC's meeting at 08:30 America/New_York (EST) on 1998-03-12 is 13:30 UTC,
    once the event says which session it is (the only change to the published file)."""
    text = (DATA / "rfc5545-4-project-review.ics").read_bytes().replace(
        b"CATEGORIES:MEETING", b"CATEGORIES:PSYCHOTHERAPY,CBT")
    (tmp_path / "review.ics").write_bytes(text)
    (tmp_path / "roster.yaml").write_text(
        "clinicians: [{id: mrbig, roles: [therapist]}]\n"
        "patients: [{id: employee-A, diagnoses: [F33.2]}]\n")
    schedule = load_schedule([tmp_path / "roster.yaml", tmp_path / "review.ics"])
    (session,) = schedule.sessions
    assert (session.id, session.patient, session.clinician, session.modality) == (
        "guid-1.example.com", "employee-A", "mrbig", "CBT")
    assert session.start.isoformat() == "1998-03-12T13:30:00+00:00"
    assert session.duration.total_seconds() == 3600
    assert session.source is not None and session.source.endswith("(line 21)")


def test_an_all_day_recurring_event_is_one_problem_and_stops_at_the_horizon(
        tmp_path: Path) -> None:
    """Its instances have no time, so none is a session: the event is reported once,
    and its expansion stops at the horizon like any other (walking a daily all-day
    series to the year 9999 took minutes)."""
    all_day = """BEGIN:VEVENT
UID:daily-all-day
DTSTART;VALUE=DATE:20260301
RRULE:FREQ=DAILY
CATEGORIES:assessment
X-KAPCHECK-PATIENT:P-001
ORGANIZER:mailto:dr-lee@example.org
END:VEVENT"""
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, WEEKLY, all_day))
    problems = [str(p) for p in err.value.problems]
    assert len(problems) == 1 and "daily-all-day" in problems[0]
    assert "an all-day event is not a session" in problems[0]


def _series(uid: str, start: str, rule: str, *extra: str, length: str = "PT50M") -> str:
    return "\n".join(["BEGIN:VEVENT", f"UID:{uid}", f"DTSTART:{start}", f"DURATION:{length}",
                      f"RRULE:{rule}", *extra, "CATEGORIES:psychotherapy,CBT",
                      "X-KAPCHECK-PATIENT:P-001", "ORGANIZER;CN=t-ortiz:mailto:t@example.org",
                      "END:VEVENT"])


@pytest.mark.parametrize(("rule", "extra", "per_day"), [
    ("FREQ=SECONDLY", ("STATUS:CANCELLED",), "86,400"),
    ("FREQ=MINUTELY;INTERVAL=5", (), "288"),
    ("FREQ=DAILY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18;BYMINUTE=0,5,10,15,20,25,30,35,40,45,"
     "50,55;BYSECOND=0,30", (), "264"),
])
def test_a_series_denser_than_a_clinician_s_day_is_one_problem(
        tmp_path: Path, rule: str, extra: tuple[str, ...], per_day: str) -> None:
    """A series that can recur more often in a day than a clinician's day holds sessions
    (200) is refused before it is expanded, cancelled or not: a cancelled series every
    second, walked to the horizon, took minutes and gigabytes."""
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, _series("dense", "20260302T080000", rule, *extra)))
    (problem,) = err.value.problems
    assert "VEVENT dense (line 6).RRULE" in str(problem)
    assert f"recurs up to {per_day} times a day" in str(problem)


def test_a_series_within_a_day_s_bound_is_expanded_and_held_by_the_session_limit(
        tmp_path: Path) -> None:
    twice_an_hour = _series("busy", "20260302T080000", "FREQ=HOURLY;BYMINUTE=0,30")
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, twice_an_hour, header="X-WR-TIMEZONE:UTC"))
    (problem,) = err.value.problems
    assert "expands to more than 1000 sessions before 2026-08-29" in str(problem)


def test_a_series_that_starts_long_after_the_horizon_makes_no_session(tmp_path: Path) -> None:
    """The calendar is expanded a week at a time up to the horizon, never past it: a
    series that starts centuries later (expanded by the library's own search, whose
    windows double across an empty stretch) took minutes and gigabytes."""
    far = _series("far", "40000301T100000", "FREQ=HOURLY;INTERVAL=8")
    schedule = load_schedule(calendar(tmp_path, WEEKLY, far))
    assert sorted(s.id for s in schedule.sessions) == [
        "cbt-weekly@20260302T150000Z", "cbt-weekly@20260309T140000Z",
        "cbt-weekly@20260323T140000Z"]


def test_instances_across_the_expansion_s_windows_are_each_one_session(tmp_path: Path) -> None:
    """A series of 23-hour sessions every day runs across every week's boundary of the
    walk: each instance is one session, and none is lost or doubled."""
    from datetime import date

    daily = _series("long", "20260302T060000", "FREQ=DAILY;COUNT=40", length="PT23H")
    schedule = load_schedule(calendar(tmp_path, daily), until=date(2026, 12, 31))
    ids = [s.id for s in schedule.sessions]
    assert len(ids) == len(set(ids)) == 40


def _moved(uid: str, instance: str, start: str, length: str) -> str:
    """An override: the instance of ``uid`` that started at ``instance`` moved."""
    return "\n".join(["BEGIN:VEVENT", f"UID:{uid}", f"RECURRENCE-ID:{instance}",
                      f"DTSTART:{start}", f"DURATION:{length}", "CATEGORIES:psychotherapy,CBT",
                      "X-KAPCHECK-PATIENT:P-001", "ORGANIZER;CN=t-ortiz:mailto:t@example.org",
                      "END:VEVENT"])


def test_an_instance_moved_onto_another_s_time_is_a_duplicate_not_merged(tmp_path: Path) -> None:
    weekly = _series("w", "20260305T090000", "FREQ=WEEKLY;COUNT=3")
    moved = _moved("w", "20260319T090000", "20260312T090000", "PT50M")
    with pytest.raises(ScheduleError, match="duplicate session id 'w@20260312T130000Z'"):
        load_schedule(calendar(tmp_path, weekly, moved))


def test_a_long_cancelled_series_is_walked_within_a_bound(tmp_path: Path) -> None:
    """Cancelled instances are no sessions, but they are expanded all the same: a series
    may walk 10,000 of them before the horizon."""
    from datetime import date

    cancelled = _series("gone", "20260302T080000", "FREQ=HOURLY", "STATUS:CANCELLED")
    schedule = load_schedule(calendar(tmp_path, WEEKLY, cancelled), until=date(2026, 4, 30))
    assert len(schedule.sessions) == 3  # 24 a day for two months: 1,440 walked
    with pytest.raises(ScheduleError, match="expands to more than 10,000 instances, "
                                            "cancelled ones too, before 2027-06-30"):
        load_schedule(calendar(tmp_path, WEEKLY, cancelled), until=date(2027, 6, 30))


@pytest.mark.parametrize("length", ["DTEND;TZID=America/New_York:20261025T023000",
                                    "DURATION:PT1H30M"])
def test_an_instance_across_a_change_of_clocks_lasts_as_long_as_its_event(
        tmp_path: Path, length: str) -> None:
    """Elapsed time on the UTC timeline (§2): a weekly 90-minute dose at 01:00 lasts 90
    minutes on the night clocks go back too (the library's wall-clock arithmetic made it
    150, and KAP-MON-001's 120 minutes were then met). Ids name each instance's start."""
    from datetime import timedelta

    doses = "\n".join(["BEGIN:VEVENT", "UID:dose", "DTSTART;TZID=America/New_York:20261025T010000",
                       length, "RRULE:FREQ=WEEKLY;COUNT=3", "CATEGORIES:dosing",
                       "X-KAPCHECK-PATIENT:P-001", "ORGANIZER;CN=dr-lee:mailto:d@example.org",
                       "END:VEVENT"])
    schedule = load_schedule(calendar(tmp_path, doses))
    assert [(s.id, s.end - s.start) for s in schedule.sessions] == [
        ("dose@20261025T050000Z", timedelta(minutes=90)),
        ("dose@20261101T050000Z", timedelta(minutes=90)),  # 01:00 EDT, before the change
        ("dose@20261108T060000Z", timedelta(minutes=90))]
    report = validate(schedule, load_protocol("kap"))
    assert sorted(f.session for f in report.findings if f.rule == "KAP-MON-001") == [
        s.id for s in schedule.sessions]


def test_a_moved_instance_keeps_its_own_length(tmp_path: Path) -> None:
    weekly = _series("w", "20260305T090000", "FREQ=WEEKLY;COUNT=3")
    moved = _moved("w", "20260312T090000", "20260313T090000", "PT2H")
    schedule = load_schedule(calendar(tmp_path, weekly, moved))
    assert [(s.id, int((s.end - s.start).total_seconds()) // 60) for s in schedule.sessions] == [
        ("w@20260305T140000Z", 50), ("w@20260313T130000Z", 120), ("w@20260319T130000Z", 50)]


def test_an_instance_listed_as_a_period_lasts_its_period(tmp_path: Path) -> None:
    """``RDATE;VALUE=PERIOD`` gives an instance its own length (an end or a duration);
    an override of such an instance has the last word."""
    listed = _series("p", "20260302T100000", "FREQ=WEEKLY;COUNT=1",
                     "RDATE;VALUE=PERIOD:20260304T150000Z/20260304T170000Z,"
                     "20260306T150000Z/PT90M,20260310T150000Z/PT3H")
    moved = _moved("p", "20260310T150000Z", "20260311T100000", "PT1H")
    schedule = load_schedule(calendar(tmp_path, listed, moved))
    assert [(s.id, int((s.end - s.start).total_seconds()) // 60) for s in schedule.sessions] == [
        ("p@20260302T150000Z", 50), ("p@20260304T150000Z", 120), ("p@20260306T150000Z", 90),
        ("p@20260311T140000Z", 60)]


def test_an_override_whose_series_is_absent_is_a_problem_not_a_vanished_session(
        tmp_path: Path) -> None:
    override = (WEEKLY.replace("UID:cbt-weekly", "UID:orphan")
                .replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n",
                         "RECURRENCE-ID:20260309T100000\n"))
    with pytest.raises(ScheduleError, match=r"VEVENT orphan \(line 6\)\.RECURRENCE-ID: "
                                            "overrides an instance of a recurring event"):
        load_schedule(calendar(tmp_path, override))


@pytest.mark.parametrize("prop", ["DTSTART", "EXDATE"])
def test_a_misspelled_tzid_is_a_problem_not_a_shift_into_the_calendar_s_zone(
        tmp_path: Path, prop: str) -> None:
    """TZID=Europe/Londn was read as a floating time in X-WR-TIMEZONE (five hours off),
    and an EXDATE naming it still cancelled an instance."""
    event = WEEKLY.replace(f"{prop}:2026", f"{prop};TZID=Europe/Londn:2026")
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, event))
    assert (f"VEVENT cbt-weekly (line 6).{prop}: TZID 'Europe/Londn' is neither a known "
            "IANA timezone nor a VTIMEZONE of this calendar") in str(err.value)


def test_a_windows_timezone_name_is_read_through_the_cldr_mapping(tmp_path: Path) -> None:
    """Outlook writes TZID:Central Standard Time; icalendar maps it to America/Chicago."""
    event = (WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n", "")
             .replace("DTSTART:", "DTSTART;TZID=Central Standard Time:"))
    schedule = load_schedule(calendar(tmp_path, event))
    from datetime import datetime, timezone

    assert schedule.sessions[0].start == datetime(2026, 3, 2, 16, tzinfo=timezone.utc)


def test_a_long_uid_is_echoed_at_most_sixty_characters(tmp_path: Path) -> None:
    event = (WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n", "")
             .replace("UID:cbt-weekly", "UID:" + "U" * 100_000))
    with pytest.raises(ScheduleError) as err:
        load_schedule(calendar(tmp_path, event))
    assert len(str(err.value)) < 400 and "U" * 60 + "…" in str(err.value)


def test_yearly_series_far_into_the_future_are_bounded_and_quick(tmp_path: Path) -> None:
    """40 yearly series with --until 2199-12-31 took 24 s: the expansion is bounded to
    3,660 days after the first event, and empty weeks are crossed in longer windows."""
    from datetime import date


    yearly = WEEKLY.replace("RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20260316T100000\n",
                            "RRULE:FREQ=YEARLY\n")
    with pytest.raises(ScheduleError, match="--until: 2199-12-31 is more than 3,660 days"):
        load_schedule(calendar(tmp_path, yearly), until=date(2199, 12, 31))
    import recurring_ical_events

    real_of = recurring_ical_events.of
    windows = []

    class Counting:
        def __init__(self, query: object) -> None:
            self.query = query

        def between(self, low: object, high: object) -> object:
            windows.append(low)
            return self.query.between(low, high)  # type: ignore[attr-defined]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recurring_ical_events, "of", lambda cal: Counting(real_of(cal)))
        schedule = load_schedule(calendar(tmp_path, yearly), until=date(2035, 12, 31))
    assert len(schedule.sessions) == 10
    assert len(windows) < 150  # a week at a time, it was 523
