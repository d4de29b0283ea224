"""kapcheck's rules: one module per rule, the durable_rules engine that runs them,
and ``validate``."""

from .base import Hit, Partition, Rule, View
from .catalog import BY_ID, MODULES, RULES, WAIVER_RULE
from .engine import EngineError
from .report import Finding, Report
from .validate import check_protocol, validate

__all__ = [
    "BY_ID",
    "MODULES",
    "RULES",
    "WAIVER_RULE",
    "EngineError",
    "Finding",
    "Hit",
    "Partition",
    "Report",
    "Rule",
    "View",
    "check_protocol",
    "validate",
]
