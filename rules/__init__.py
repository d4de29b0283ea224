"""kapcheck's rules: the templates (one module each) that protocol rules instantiate,
the durable_rules engine that runs them, and ``validate``."""

from .base import Hit, Partition, View
from .checker import Change, Checker
from .engine import EngineError
from .report import WAIVER_RULE, Finding, Report
from .templates import MODULES as TEMPLATE_MODULES
from .validate import check_protocol, validate

__all__ = [
    "Change",
    "Checker",
    "TEMPLATE_MODULES",
    "WAIVER_RULE",
    "EngineError",
    "Finding",
    "Hit",
    "Partition",
    "Report",
    "View",
    "check_protocol",
    "validate",
]
