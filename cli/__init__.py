"""kapcheck's command line."""

from typing import Any

from .entry import run

__all__ = ["app", "run"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `python -m kapcheck.cli` reaches the entry point's
    # guard even when importing the rules engine fails.
    if name == "app":
        from .main import app

        return app
    raise AttributeError(name)
