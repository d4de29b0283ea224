"""docs/limits.md states every limit of protocol/limits.py, with its value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kapcheck.protocol import limits

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "limits.md").read_text()


def test_every_limit_is_documented_with_its_value() -> None:
    for name in dir(limits):
        if not name.isupper() or name == "MiB" or name.startswith("_"):
            continue
        value = getattr(limits, name)
        assert f"`{name}`" in PAGE, f"docs/limits.md does not mention {name}"
        if isinstance(value, int):
            shown = {value, f"{value:,}", f"{value // limits.MiB} MiB" if value >= limits.MiB else value}
            assert any(f"`{name}` = {s}" in PAGE for s in shown), f"{name} = {value} is not stated"
        elif isinstance(value, timedelta):
            assert f"`{name}` = {value.total_seconds() / 3600:g} hours" in PAGE
