"""kapcheck's command line."""

from .main import app, run

__all__ = ["app", "run"]
