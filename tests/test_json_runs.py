"""Runs of a sessions array's items decoded at once by msgspec into session records
(``records.decode_run``) read exactly as the standard library, with kapcheck's
duplicate-key check, reads them."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import documents, records
from kapcheck.protocol.loader import SESSION_KEYS

# Text that a run must not misread: colons and braces in strings, escapes, numbers that
# a fast decoder may read differently from the standard library, or refuse.
_TEXTS = st.text(alphabet=st.sampled_from(list('ab:},{[]"\\ é\u2028\U0001f600')), max_size=8)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=False),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 1e308, 5e-324]),
)
#: Values a session record takes: kinds and routes, texts with and without spaces.
_FIELD_TEXTS = st.sampled_from(["dosing", "integration", "IV", "oral", "S-1", " S-1", "",
                                "2026-03-04T10:00", "2h", "x\u00e9:"])
_SCALARS = st.one_of(_TEXTS, _FIELD_TEXTS, _NUMBERS, st.booleans(), st.none())
#: Values of each optional field's own type (a record's, or near one).
_FITTING = {
    "end": st.sampled_from(["2026-03-04T12:00", "x:y"]),
    "duration": st.sampled_from(["2h", "90m"]),
    "modality": st.one_of(_TEXTS, st.just("CBT")),
    "route": st.sampled_from(["IV", "IM", "iv"]),
    "dose_mg": _NUMBERS,
}
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from("abc:}"), inner, max_size=3)),
    max_leaves=8,
)
#: What is written between two items: the usual ones, and ones that end no run.
_SEPARATORS = st.sampled_from([",", ", ", ",\n  ", " ,", "\n,", ",,", ""])


@st.composite
def _arrays(draw: st.DrawFn) -> str:
    """A JSON array's items written with assorted separators: most of them sessions as
    records hold them, some with a key twice, an unknown key, a value of another type, a
    null, or a number as the standard library alone writes it (NaN, 1e400)."""
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        item = {"id": "S-1", "patient": "P-1", "kind": "dosing", "start": "2026-03-04T10:00",
                "clinician": "c"} if draw(st.integers(0, 3)) else {}
        if draw(st.integers(0, 3)):  # values of each field's own type
            item.update(draw(st.fixed_dictionaries({}, optional=_FITTING)))
        else:
            item.update(draw(st.dictionaries(st.sampled_from([*SESSION_KEYS, "a:b", "}"]),
                                             _VALUES, max_size=3)))
        text = json.dumps(item)
        twice = draw(st.sampled_from([None, "id", "kind"]))
        if twice is not None and text != "{}":
            text = text[:-1] + f', "{twice}": ' + draw(st.sampled_from(['1', '"x"', "[1]", '"\\u003a"'])) + "}"
        if draw(st.booleans()):
            text = text.replace("1", draw(st.sampled_from(["1e400", "NaN", "1"])), 1)
        parts.append(text)
        parts.append(draw(_SEPARATORS) if len(parts) < 11 else "")
    return "[" + "".join(parts[:-1]) + "]"


def _plain(value: Any) -> Any:
    """A record as the mapping it was read from (its fields written, kinds as text)."""
    if isinstance(value, records.SessionRecord):
        return {k: v for k, v in msgspec.structs.asdict(value).items() if v is not None}
    return value


def _canonical(value: Any) -> str:
    """Equal for equal values of either decoder, int and float told apart, NaN equal."""
    return json.dumps(value, allow_nan=True, sort_keys=True)


@contextlib.contextmanager
def _runs_of(chars: int) -> Iterator[None]:
    kept = documents.RUN_CHARS
    documents.RUN_CHARS = chars
    try:
        yield
    finally:
        documents.RUN_CHARS = kept


@settings(max_examples=300)
@given(array=_arrays(), chars=st.sampled_from([0, 1, 7, 40]))
def test_items_decoded_in_runs_are_what_the_standard_library_reads(array: str,
                                                                   chars: int) -> None:
    """Runs of items read exactly as the standard library (with kapcheck's duplicate-key
    check) reads the whole document: the same values, or an error both ways."""
    text = '{"sessions": ' + array + ', "clinic": "c"}'
    try:
        expected: Any = _canonical(documents.json_loads(text))
    except ValueError:
        expected = ValueError
    with _runs_of(chars):
        try:
            members = {}
            for key, value in documents.json_members(text, "sessions", records.decode_run):
                members[key] = [_plain(v) for v in value] if key == "sessions" else value
            got: Any = _canonical(members)
        except ValueError:
            got = ValueError
    assert got == expected


_SESSION = '{"id": "S-1", "patient": "P-1", "kind": "dosing", "start": "s", "clinician": "c"'


@pytest.mark.parametrize(("dose", "read"), [
    ("12345678901234567890123", 12345678901234567890123), ("2.5", 2.5), ("25", 25),
    ("1E2", 100.0), ("-0.0", -0.0), ("1e-400", 0.0),
])
def test_a_runs_numbers_read_as_the_standard_library_reads_them(dose: str, read: Any) -> None:
    """A long integer stays an integer, an integer is no float, a float no integer."""
    got = records.decode_run(f'{_SESSION}, "dose_mg": {dose}}}'.encode())
    assert got is not None and got[0].dose_mg == read and type(got[0].dose_mg) is type(read)
    assert math.copysign(1, got[0].dose_mg) == math.copysign(1, read)


@pytest.mark.parametrize("unusual", [
    '"dose_mg": NaN', '"dose_mg": 1e400', '"dose_mg": true', '"kind": "dosing"', '"end": null',
    '"id": "S\u002d1"', '"notes": "x"', '"route": "iv"', '"modality": ""',
])
def test_a_run_that_is_not_plain_records_is_left_to_the_standard_library(unusual: str) -> None:
    """NaN and infinite floats, a key twice or written null, an escape, an unknown key,
    a field of another type or value: the items are read one by one, and reported."""
    assert records.decode_run(f"{_SESSION}, {unusual}}}".encode()) is None
    assert records.decode_run(f"{_SESSION}}}".encode()) is not None


def test_the_records_fields_are_the_session_keys() -> None:
    assert set(records.SessionRecord.__struct_fields__) == set(SESSION_KEYS)


@pytest.mark.parametrize("item", [
    {"patients": ["P-1", "P-2"], "clinicians": ["c-1", "c-2"], "room": "Room A"},
    {"patients": ["P-1"], "clinician": "c-1"},
    {"patient": "P-1", "clinicians": ["c-1", "c-2"]},
    {"patient": "P-1", "patients": ["P-1", "P-2"], "clinician": "c-1"},
    {"patients": ["P-1", "P-1"], "clinician": "c-1"},
    {"patients": [], "clinician": "c-1"},
    {"patients": ["P-1", " P-2"], "clinician": "c-1"},
    {"clinician": "c-1"},
    {"patient": "P-1", "clinician": "c-1", "room": " Room A"},
    {"patient": "P-1", "clinician": "c-1", "room": "Room A"},
])
def test_the_quick_path_builds_what_the_reader_builds_or_leaves_it(item: dict) -> None:
    """A group, co-therapists or a room (SPEC §11) read by the quick path is the session
    the reader builds field by field; anything the reader would report, the quick path
    leaves to it."""
    from zoneinfo import ZoneInfo

    from kapcheck.protocol.errors import Problems
    from kapcheck.protocol.reading import _quick_session, _Raw, _read_session, _Reader

    tz = ZoneInfo("America/New_York")
    written = {"id": "S-1", "kind": "integration", "modality": "CBT",
               "start": "2026-03-02T09:00", "duration": "50m", **item}
    quick = _quick_session(written, tz, {}, {})
    problems = Problems("f")
    slow = _read_session(_Raw(), _Reader(problems), written, "sessions[0]", tz)
    if slow is None:
        assert quick is None and problems.items
    elif quick is not None:  # it takes a subset (ids and names written plainly)
        assert quick == slow and (quick.patients, quick.clinicians, quick.room) == \
            (slow.patients, slow.clinicians, slow.room)
