"""Runs of a JSON array's items decoded at once by orjson (``documents._run``) read
exactly as the standard library, with kapcheck's duplicate-key check, reads them."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import documents

# Text that a run must not misread: colons and braces in strings, escapes, numbers that
# orjson reads differently from the standard library or refuses.
_TEXTS = st.text(alphabet=st.sampled_from(list('ab:},{[]"\\ é\u2028\U0001f600')), max_size=8)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=False),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 1e308, 5e-324]),
)
_SCALARS = st.one_of(_TEXTS, _NUMBERS, st.booleans(), st.none())
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
    """A JSON array's items written with assorted separators, some with a key twice or
    a number as the standard library alone writes it (NaN, 1e400)."""
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        item = draw(st.dictionaries(st.sampled_from(["id", "kind", "a:b", "}"]), _VALUES,
                                    max_size=4))
        text = json.dumps(item)
        twice = draw(st.sampled_from([None, "id", "kind"]))
        if twice is not None and text != "{}":
            text = text[:-1] + f', "{twice}": ' + draw(st.sampled_from(['1', '"x"', "[1]", '"\\u003a"'])) + "}"
        if draw(st.booleans()):
            text = text.replace("1", draw(st.sampled_from(["1e400", "NaN", "1"])), 1)
        parts.append(text)
        parts.append(draw(_SEPARATORS) if len(parts) < 11 else "")
    return "[" + "".join(parts[:-1]) + "]"


def _canonical(value: Any) -> str:
    """Equal for equal values of either decoder, int and float told apart, NaN equal."""
    return json.dumps(value, allow_nan=True)


@contextlib.contextmanager
def _runs_of(chars: int) -> Iterator[None]:
    kept = documents.RUN_CHARS
    documents.RUN_CHARS = chars
    try:
        yield
    finally:
        documents.RUN_CHARS = kept


@settings(max_examples=150)
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
            for key, value in documents.json_members(text, "sessions"):
                members[key] = list(value) if key == "sessions" else value
            got: Any = _canonical(members)
        except ValueError:
            got = ValueError
    assert got == expected


def test_numbers_a_run_leaves_to_the_standard_library() -> None:
    """A run's numbers read as the standard library reads them: a long integer stays an
    integer, NaN is read at all."""
    text = '{"sessions": [{"a": 1}, {"a": 12345678901234567890123}, {"a": NaN}, {"a": 2.5}]}'
    with _runs_of(0):
        items = [list(v) for k, v in documents.json_members(text, "sessions")][0]
    assert items[1]["a"] == 12345678901234567890123 and type(items[1]["a"]) is int
    assert math.isnan(items[2]["a"]) and items[3]["a"] == 2.5
