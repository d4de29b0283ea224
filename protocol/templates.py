"""Rule templates as a protocol file sees them: their parameters and their texts.

A protocol rule names a template and gives its parameters; kapcheck's own rules are
instances of the same templates. This module is the schema of a rule entry (which
parameters a template takes, their units and defaults, the placeholders its texts may
use); the rulesets and verdicts that implement each template live in
``kapcheck.rules.templates``, one module each.

The parameter names follow the vocabulary of clinical scheduling (CDISC USDM timing,
visit windows): the ``anchor`` session a window is counted from, the ``kind`` of session
required, and the window's bounds (``min_hours_after`` .. ``window_hours`` after the
anchor ends; ``min_hours_before`` and ``max_days_before`` before it starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

#: A parameter the rule must give.
REQUIRED: Any = object()


@frozen
class ParamSpec:
    unit: str
    default: Any = REQUIRED
    #: Another name the parameter may be given under (``days`` for ``span_days``, as the
    #: kap protocol's KAP-DOSE-002 has always called it).
    alias: str | None = None

    @property
    def optional(self) -> bool:
        """No value needed: the template treats an absent one as "none"."""
        return self.default is None


@frozen
class TemplateSpec:
    name: str
    params: Mapping[str, ParamSpec]
    #: The requirement sentence when a rule gives none; {parameter} placeholders.
    requirement: str
    #: What a finding is attached to, for `kapcheck explain`; {parameter} placeholders.
    anchor: str
    #: Placeholders a rule's ``message`` and ``suggestion`` may use (besides parameters).
    fields: tuple[str, ...] = ()
    #: What one engine assertion holds: a patient's sessions, a clinician's day, or the
    #: whole run (for a verdict that depends on nothing patient-specific).
    partition: str = "patient"


_SESSION = ("session", "start", "end", "kind", "anchor_kind")

TEMPLATES: dict[str, TemplateSpec] = {t.name: t for t in (
    TemplateSpec(
        "before-first",
        {"anchor": ParamSpec("kind"), "kind": ParamSpec("kind"),
         "min_sessions": ParamSpec("count", 1), "min_hours_before": ParamSpec("hours", 0),
         "max_days_before": ParamSpec("days")},
        "The first {anchor} session is preceded by at least {min_sessions} {kind} "
        "session(s), each ending at least {min_hours_before} hours before it starts and "
        "starting no earlier than {max_days_before} days before it.",
        "the patient's first {anchor} session",
        (*_SESSION, "found", "needed", "missing", "outside", "earliest", "latest"),
    ),
    TemplateSpec(
        "after-each",
        {"anchor": ParamSpec("kind"), "kind": ParamSpec("kind"),
         "min_sessions": ParamSpec("count", 1), "min_hours_after": ParamSpec("hours", 0),
         "window_hours": ParamSpec("hours"), "only_first": ParamSpec("flag", False)},
        "Every {anchor} session is followed by at least {min_sessions} {kind} session(s) "
        "starting between {min_hours_after} and {window_hours} hours after it ends.",
        "the {anchor} session",
        (*_SESSION, "found", "needed", "missing", "earliest", "latest"),
    ),
    TemplateSpec(
        "spacing",
        {"kind": ParamSpec("kind"), "min_hours": ParamSpec("hours"),
         "max_hours": ParamSpec("hours", None)},
        "Consecutive {kind} sessions of a patient start at least {min_hours} hours apart.",
        "the later {kind} session",
        (*_SESSION, "previous", "gap", "earliest", "latest"),
    ),
    TemplateSpec(
        "count-in-span",
        {"kind": ParamSpec("kind"), "max_sessions": ParamSpec("count"),
         "span_days": ParamSpec("days", alias="days"), "from_day": ParamSpec("days", None),
         "until_day": ParamSpec("days", None)},
        "No more than {max_sessions} {kind} sessions start in any {span_days}-day span.",
        "each {kind} session whose count exceeds max_sessions",
        (*_SESSION, "count", "earliest"),
    ),
    TemplateSpec(
        "before-each",
        {"anchor": ParamSpec("kind"), "kind": ParamSpec("kind"),
         "min_sessions": ParamSpec("count", 1), "min_hours_before": ParamSpec("hours", 0),
         "max_hours_before": ParamSpec("hours")},
        "Every {anchor} session is preceded by at least {min_sessions} {kind} session(s), "
        "each ending at least {min_hours_before} hours before it starts and starting no "
        "earlier than {max_hours_before} hours before it.",
        "the {anchor} session",
        (*_SESSION, "found", "needed", "missing", "earliest", "latest"),
    ),
    TemplateSpec(
        "same-clinician",
        {"anchor": ParamSpec("kind"), "kind": ParamSpec("kind"),
         "min_sessions": ParamSpec("count", 1)},
        "At least {min_sessions} {kind} session(s) ending by the time the patient's first "
        "{anchor} session starts are run by that {anchor} session's clinician.",
        "the patient's first {anchor} session",
        (*_SESSION, "found", "needed", "clinician"),
    ),
    TemplateSpec(
        "recorded-before-first",
        {"anchor": ParamSpec("kind"), "record": ParamSpec("record"),
         "min_days_before": ParamSpec("days", 0), "max_days_before": ParamSpec("days", None)},
        "The patient's {record} record is dated at least {min_days_before} days before the "
        "day of their first {anchor} session.",
        "the patient's first {anchor} session",
        (*_SESSION, "record", "recorded", "earliest", "latest"),
    ),
    TemplateSpec(
        "first-dose",
        {"kind": ParamSpec("kind"), "max_dose_mg": ParamSpec("mg")},
        "The patient's first {kind} session gives at most {max_dose_mg} mg.",
        "the patient's first {kind} session",
        (*_SESSION, "dose_mg"),
    ),
    TemplateSpec(
        "min-duration",
        {"kind": ParamSpec("kind"), "min_minutes": ParamSpec("minutes"),
         "by_dose_mg": ParamSpec("dose_table", None)},
        "A {kind} session lasts at least {min_minutes} minutes.",
        "the {kind} session",
        (*_SESSION, "length", "needed", "dose_mg", "latest"),
    ),
    TemplateSpec(
        "min-clinicians",
        {"kind": ParamSpec("kind"), "min_clinicians": ParamSpec("count"),
         "roles": ParamSpec("role_list", None)},
        "Every {kind} session is run by at least {min_clinicians} distinct clinicians, each "
        "holding a role of {roles} (without roles, any clinician counts).",
        "the {kind} session, once for each of its patients",
        (*_SESSION, "found", "needed", "clinicians"),
    ),
    TemplateSpec(
        "group-ratio",
        {"kind": ParamSpec("kind"), "max_patients_per_clinician": ParamSpec("ratio", None),
         "by_dose_mg": ParamSpec("ratio_table", None), "max_patients": ParamSpec("count", None)},
        "Every {kind} session has at most {max_patients_per_clinician} patients per clinician "
        "(its patients divided by its clinicians, exactly; every clinician of the session "
        "counts; with by_dose_mg, the ratio of the table's last row whose dose is at most the "
        "session's dose_mg, and a session without dose_mg or below the first row is a "
        "finding) and at most {max_patients} patients in all.",
        "the {kind} session, once for each of its patients",
        (*_SESSION, "patients", "clinicians", "ratio", "dose_mg", "needed_clinicians",
         "move_patients", "max_patients"),
    ),
    TemplateSpec(
        "room-overlap", {},
        "No two sessions with the same room (compared exactly) overlap; a session without a "
        "room is in no room.",
        "the later-starting session (ties: the greater id, compared as strings), once for "
        "each of its patients",
        partition="room",
    ),
    TemplateSpec(
        "modality-map", {},
        "Every psychotherapy and integration session uses a modality that the diagnosis "
        "map allows for at least one of the patient's diagnoses.",
        "the session",
        partition="run",
    ),
    TemplateSpec(
        "diagnosis-covered", {},
        "A patient with a dosing session has at least one diagnosis that the diagnosis map "
        "covers.",
        "the patient's first dosing session",
        partition="run",
    ),
    TemplateSpec(
        "patient-overlap", {},
        "A patient's sessions do not overlap.",
        "the later-starting session (ties: the greater id, compared as strings)",
    ),
    TemplateSpec(
        "clinician-overlap", {},
        "A clinician's sessions do not overlap.",
        "the later-starting session (ties: the greater id, compared as strings)",
        partition="clinician",
    ),
    TemplateSpec(
        "roles", {"roles": ParamSpec("roles")},
        "Each session is run by a clinician with a role its kind requires ({roles}); a kind "
        "not listed may be run by any clinician of the roster.",
        "the session",
        partition="run",
    ),
)}

#: The keys of a rule entry that are not parameters.
TEXT_KEYS = ("title", "requirement", "rationale", "source", "evidence", "message",
             "suggestion")
RULE_KEYS = ("template", "severity", "enabled", *TEXT_KEYS)


def default_requirement(spec: TemplateSpec, values: Mapping[str, Any]) -> str:
    """The requirement sentence of a rule that gives none: the template's, worded for the
    options the rule sets (the first anchor alone, an upper spacing, a phase), so that
    what kapcheck states is what it checks."""
    if spec.name == "after-each" and values.get("only_first"):
        return ("The patient's first {anchor} session is followed by at least {min_sessions} "
                "{kind} session(s) starting between {min_hours_after} and {window_hours} "
                "hours after it ends.")
    if spec.name == "spacing" and values.get("max_hours") is not None:
        return ("Consecutive {kind} sessions of a patient start at least {min_hours} and at "
                "most {max_hours} hours apart.")
    if spec.name == "min-clinicians" and values.get("roles") is None:
        return "Every {kind} session is run by at least {min_clinicians} clinicians."
    if spec.name == "group-ratio":
        ratio = ("at most the patients per clinician that its dose_mg's row of the table "
                 "allows ({by_dose_mg})" if values.get("by_dose_mg")
                 else "at most {max_patients_per_clinician} patients per clinician")
        total = (" and at most {max_patients} patients in all"
                 if values.get("max_patients") is not None else "")
        return "Every {kind} session has " + ratio + total + "."
    if spec.name == "count-in-span" and (values.get("from_day") or
                                         values.get("until_day") is not None):
        phase = ("from day {from_day} to day {until_day}" if values.get("until_day") is not None
                 else "from day {from_day} on")
        return ("In the phase of the course " + phase + " after the patient's first {kind} "
                "session, no more than {max_sessions} {kind} sessions start in any "
                "{span_days}-day span.")
    return spec.requirement


def show(value: Any, unit: str | None = None) -> str:
    """A parameter value as rule texts print it: 72, 36.5, "prescriber or nurse"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {' or '.join(v) if v else 'anyone'}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(row, (list, tuple)) for row in value):
            if unit == "ratio_table":
                return ", ".join(f"from {show(d)} mg: {show(m)} per clinician" for d, m in value)
            return ", ".join(f"{show(d)} mg: {show(m)} min" for d, m in value)
        return ", ".join(str(v) for v in value)
    return str(value)
