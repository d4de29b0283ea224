"""A large JSON schedule is read session by session; what it gives is what reading the
whole document gives, and anything unusual is read whole, its problems as ever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kapcheck.protocol import ScheduleError, load_schedule, loader

from .helpers import compliant_course, document

ROOT = Path(__file__).resolve().parent.parent


def _both(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> tuple[object, object]:
    """(read session by session, read whole): a schedule or the problems raised."""
    outcomes = []
    for threshold in (0, 1 << 60):
        monkeypatch.setattr(loader, "STREAM_MIN_BYTES", threshold)
        try:
            schedule = load_schedule(path, **kwargs)
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
    "ints as ids", "spaces around ids", "no sessions",
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
    path = tmp_path / "s.json"
    path.write_text(text if text is not None else json.dumps(doc, default=str), encoding="utf-8")
    streamed, whole = _both(path, monkeypatch)
    assert streamed == whole


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
