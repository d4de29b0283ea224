"""kapcheck's domain: schedules, sessions, protocols, their loaders and time."""

from .errors import InputError, KapcheckError, Problem, ProtocolError, ScheduleError
from .loader import load_schedule
from .mapping import ExportMapping, load_mapping
from .model import (
    Clinician,
    DiagnosisEntry,
    DiagnosisMap,
    Kind,
    Patient,
    Protocol,
    Role,
    Route,
    RuleSettings,
    Schedule,
    Session,
    Severity,
    Skipped,
    Waiver,
    icd_key,
)
from .protocols import DEFAULT, load_protocol, shipped_protocols

__all__ = [
    "DEFAULT",
    "Clinician",
    "DiagnosisEntry",
    "DiagnosisMap",
    "ExportMapping",
    "InputError",
    "KapcheckError",
    "Kind",
    "Patient",
    "Problem",
    "Protocol",
    "ProtocolError",
    "Role",
    "Route",
    "RuleSettings",
    "Schedule",
    "ScheduleError",
    "Session",
    "Severity",
    "Skipped",
    "Waiver",
    "icd_key",
    "load_mapping",
    "load_protocol",
    "load_schedule",
    "shipped_protocols",
]
