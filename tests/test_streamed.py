"""A large JSON schedule is read session by session; what it gives is what reading the
whole document gives, and anything unusual is read whole, its problems as ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kapcheck.protocol import ScheduleError, documents, load_schedule, loader, structured
from kapcheck.protocol.limits import MAX_SESSIONS_PER_PATIENT

from .helpers import compliant_course, document

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, params=[16, documents.RUN_CHARS], ids=["short runs", "runs"])
def run_chars(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test here reads with runs of items decoded at once (into session records)
    as long as in use (a small document has none) and as short as an item, so that they
    do occur."""
    monkeypatch.setattr(documents, "RUN_CHARS", request.param)
    return request.param  # type: ignore[no-any-return]


def _both(path: Path | list[Path], monkeypatch: pytest.MonkeyPatch,
          **kwargs: object) -> tuple[object, object]:
    """(read session by session, read whole): a schedule or the problems raised."""
    outcomes = []
    for threshold in (0, 1 << 60):
        monkeypatch.setattr(loader, "STREAM_MIN_BYTES", threshold)
        try:
            schedule = load_schedule(*(path if isinstance(path, list) else [path]), **kwargs)
            outcomes.append((schedule, [s.source for s in schedule.sessions]))
        except ScheduleError as exc:
            outcomes.append([str(p) for p in exc.problems])
    return outcomes[0], outcomes[1]


def _json(tmp_path: Path, doc: object, name: str = "s.json", **dump: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, default=str, **dump), encoding="utf-8")
    return path


def _example() -> dict:
    return yaml.safe_load((ROOT / "examples" / "riverside.yaml").read_text(encoding="utf-8"))


def test_the_example_reads_alike_either_way(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    streamed, whole = _both(_json(tmp_path, _example(), indent=2), monkeypatch)
    assert streamed == whole and not isinstance(whole, list)


@pytest.mark.parametrize("change", [
    "timezone after sessions", "no timezone", "unknown key", "bad session", "duplicate key",
    "naive times", "sessions not a list", "not an object", "trailing text", "empty sessions",
    "ints as ids", "spaces around ids", "no sessions", "duplicate session id",
    "unknown patient", "unknown clinician", "too many sessions for a patient",
])
def test_unusual_documents_read_alike_either_way(change: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _example()
    text: str | None = None
    if change == "timezone after sessions":
        zone = doc.pop("timezone")
        doc["timezone"] = zone
    elif change == "no timezone":
        del doc["timezone"]
        for s in doc["sessions"]:
            s["start"] += "-05:00"
    elif change == "unknown key":
        doc["room"] = "B"
    elif change == "bad session":
        doc["sessions"][3]["kind"] = "integation"
    elif change == "duplicate key":
        text = json.dumps(doc, default=str).replace('"kind": "dosing"', '"kind": "dosing", "kind": "x"', 1)
    elif change == "naive times":
        del doc["timezone"]
    elif change == "sessions not a list":
        doc["sessions"] = {"a": 1}
    elif change == "not an object":
        doc = [doc]
    elif change == "trailing text":
        text = json.dumps(doc, default=str) + " x"
    elif change == "empty sessions":
        doc["sessions"] = []
    elif change == "ints as ids":
        doc["sessions"][0]["id"] = 7001
    elif change == "spaces around ids":
        doc["sessions"][0]["patient"] = f" {doc['sessions'][0]['patient']} "
    elif change == "no sessions":
        del doc["sessions"]
    elif change == "duplicate session id":
        doc["sessions"][5]["id"] = doc["sessions"][2]["id"]
    elif change == "unknown patient":
        doc["sessions"][4]["patient"] = "P-nobody"
    elif change == "unknown clinician":
        doc["sessions"][-1]["clinician"] = "dr-nobody"
    elif change == "too many sessions for a patient":
        first = doc["sessions"][0]
        doc["sessions"] += [dict(first, id=f"X{n}") for n in range(MAX_SESSIONS_PER_PATIENT)]
    path = tmp_path / "s.json"
    path.write_text(text if text is not None else json.dumps(doc, default=str), encoding="utf-8")
    streamed, whole = _both(path, monkeypatch)
    assert streamed == whole


def test_problems_across_files_are_placed_alike(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions of a streamed document among others' (a YAML file before it, a JSON file
    after): a problem of the run names the file and the place of the session it is
    about, whichever way each document was read."""
    doc = _example()
    first = dict(doc, sessions=doc["sessions"][:4], waivers=[])
    first["sessions"][1] = dict(first["sessions"][1], patient="P-nobody")
    middle = dict(doc, sessions=doc["sessions"][4:], waivers=[])
    middle["sessions"][3] = dict(middle["sessions"][3], id=first["sessions"][0]["id"])
    middle["sessions"][-1] = dict(middle["sessions"][-1], clinician="dr-nobody")
    last = {"timezone": doc["timezone"],
            "sessions": [dict(doc["sessions"][2], id="Z1", patient="P-other")]}
    yaml_file = tmp_path / "a.yaml"
    yaml_file.write_text(yaml.safe_dump(json.loads(json.dumps(first, default=str))),
                         encoding="utf-8")
    paths = [yaml_file, _json(tmp_path, middle, "b.json"), _json(tmp_path, last, "c.json")]
    streamed, whole = _both(paths, monkeypatch)
    assert streamed == whole
    assert isinstance(whole, list)
    assert any(p.startswith(f"{tmp_path / 'a.yaml'}:") and "P-nobody" in p for p in whole)
    assert any(p.startswith(f"{tmp_path / 'b.json'}: sessions[3].id") and "duplicate" in p for p in whole)
    assert any(p.startswith(
        f"{tmp_path / 'b.json'}: sessions[{len(middle['sessions']) - 1}].clinician")
               for p in whole)
    assert any(p.startswith(f"{tmp_path / 'c.json'}: sessions[0].patient") for p in whole)


def test_a_timezone_from_the_command_line_reads_alike(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    doc = document(compliant_course())
    del doc["timezone"]
    streamed, whole = _both(_json(tmp_path, doc), monkeypatch, timezone="Europe/Berlin")
    assert streamed == whole and not isinstance(whole, list)


def test_a_large_network_is_read_session_by_session(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the threshold the streamed reading is the one taken (it is no dead branch)."""
    calls = []
    real = loader._read_streamed

    def spy(*args: object) -> object:
        result = real(*args)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(loader, "_read_streamed", spy)
    doc = document(compliant_course())
    doc["sessions"] = doc["sessions"] * 1  # one copy: ids stay unique
    path = _json(tmp_path, doc)
    monkeypatch.setattr(loader, "STREAM_MIN_BYTES", 0)
    load_schedule(path)
    assert calls == [True]


def test_a_large_network_is_decoded_in_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           run_chars: int) -> None:
    """Runs of items are decoded at once (they are no dead branch) and read what the
    whole document reads."""
    runs = []
    real = structured.decode_run

    def spy(*args: Any) -> Any:
        result = real(*args)
        runs.append(result is not None)
        return result

    monkeypatch.setattr(structured, "decode_run", spy)
    path = _json(tmp_path, _example(), indent=2)
    streamed, whole = _both(path, monkeypatch)
    assert streamed == whole and not isinstance(whole, list)
    assert (True in runs) == (run_chars == 16)


@pytest.mark.parametrize("twice", ["kind x then dosing", "kind dosing then x",
                                   "kind dosing twice", "start with an escaped colon"])
def test_a_duplicate_key_inside_a_run_is_reported(twice: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """msgspec keeps the last of two keys silently: a session that names a key twice is
    reported all the same, however the run around it reads. The last case's colons
    balance (the value dropped has none, the value kept has one written as an escape)."""
    doc = _example()
    text = json.dumps(doc, default=str)
    first = doc["sessions"][0]["start"]
    written = {
        "kind x then dosing": ('"kind": "dosing"', '"kind": "x", "kind": "dosing"'),
        "kind dosing then x": ('"kind": "dosing"', '"kind": "dosing", "kind": "x"'),
        "kind dosing twice": ('"kind": "dosing"', '"kind": "dosing", "kind": "dosing"'),
        "start with an escaped colon": (
            f'"start": "{first}"',
            f'"start": "x", "start": "{first.replace(":", chr(92) + "u003a")}"'),
    }[twice]
    assert written[0] in text and first.count(":") == 1
    path = tmp_path / "s.json"
    path.write_text(text.replace(*written, 1), encoding="utf-8")
    streamed, whole = _both(path, monkeypatch)
    assert streamed == whole
    assert isinstance(whole, list) and any("appears twice" in p for p in whole)
