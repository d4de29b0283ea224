"""The domain: clinicians, patients, sessions, schedules, waivers and protocols.

Every class is a frozen attrs value built once by a loader; everything after the
loader trusts it. Times are aware datetimes in UTC: elapsed-time arithmetic on them
is arithmetic on the UTC timeline, whatever the clinic's wall clock did.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from attrs import Factory, field, frozen


class Kind(str, enum.Enum):
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    PSYCHOTHERAPY = "psychotherapy"
    ASSESSMENT = "assessment"

    def __str__(self) -> str:
        return self.value


class Role(str, enum.Enum):
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    THERAPIST = "therapist"

    def __str__(self) -> str:
        return self.value


class Route(str, enum.Enum):
    IV = "IV"
    IM = "IM"
    SL = "SL"
    ORAL = "oral"
    IN = "IN"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return {Severity.WARNING: 1, Severity.ERROR: 2}[self]


#: Kinds whose sessions must name a psychotherapy modality.
MODALITY_KINDS = frozenset({Kind.PSYCHOTHERAPY, Kind.INTEGRATION})


def icd_key(code: str) -> str:
    """The comparison form of an ICD-10-CM code or prefix: upper case, no dot."""
    return code.replace(".", "").strip().upper()


def _utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected an aware datetime, got {type(value).__name__}")
    if value.tzinfo is timezone.utc:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times in the model are aware")
    return value.astimezone(timezone.utc)


def _member(enum: Any, value: object, what: str) -> Any:
    """The enum member, or a FieldError naming what was expected."""
    try:
        return enum(value)
    except ValueError:
        from .errors import FieldError, Problem
        from .limits import shown

        choices = " | ".join(m.value for m in enum)
        raise FieldError([Problem("<model>", what, f"expected one of {choices}, got "
                                                   f"{shown(value)}")]) from None


def _optional_route(value: object) -> Route | None:
    return value if value is None or type(value) is Route else _member(Route, value, "route")


def _kind(value: object) -> Kind:
    return value if type(value) is Kind else _member(Kind, value, "kind")


def _roles(values: Iterable[object]) -> frozenset[Role]:
    return frozenset(_member(Role, v, "roles") for v in values)


@frozen
class Clinician:
    id: str
    roles: frozenset[Role] = field(default=frozenset(), converter=_roles)


#: A dated record's name: a lower-case identifier (``rems-enrollment``, ``consent``).
RECORD_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")


@frozen
class Patient:
    id: str
    diagnoses: tuple[str, ...] = ()
    #: Dated records (REMS enrollment, signed consent), as (name, date) pairs by name.
    records: tuple[tuple[str, date], ...] = ()

    def record(self, name: str) -> date | None:
        """The date of the patient's record of that name, if any."""
        for key, day in self.records:
            if key == name:
                return day
        return None


def _people(value: Any) -> tuple[str, ...] | None:
    """A session's ``patients`` (``clinicians``) as given: a tuple, or None (one)."""
    return None if value is None else tuple(value) if isinstance(value, (list, tuple)) \
        else value


@frozen
class Session:
    id: str
    patient: str
    kind: Kind = field(converter=_kind)
    start: datetime = field(converter=_utc)
    end: datetime = field(converter=_utc)
    clinician: str
    modality: str | None = None
    route: Route | None = field(default=None, converter=_optional_route)
    #: The dose in mg (dosing sessions; optional), for dose-dependent minimum lengths.
    dose_mg: float | None = None
    #: IANA name of the document's timezone, for showing local times (None: UTC).
    zone: str | None = None
    #: Every patient of a group session, in the order written (``patients=``; read it
    #: as ``patients``); None: ``patient`` alone, so that ``attrs.evolve(s, patient=...)``
    #: moves a single session to another patient.
    _patients: tuple[str, ...] | None = field(default=None, kw_only=True, alias="patients",
                                              converter=_people)
    #: Every clinician of the session (co-therapists), as ``patients``.
    _clinicians: tuple[str, ...] | None = field(default=None, kw_only=True,
                                                alias="clinicians", converter=_people)
    #: The room (compared exactly), or None: the session is in no room.
    room: str | None = field(default=None, kw_only=True)
    #: Where the session was written, for people to look it up: the file and the place
    #: in it (``clinic.yaml: sessions[4] (line 31)``, ``bundle.json: entry[3]``,
    #: ``clinic.ics: UID S-1 (line 12)``). Not part of the session's value.
    source: str | None = field(default=None, eq=False, repr=False, kw_only=True)
    #: start and end as whole seconds since the epoch, converted once for the engine.
    start_s: int = field(init=False, eq=False, repr=False,
                         default=Factory(lambda self: int(self.start.timestamp()), takes_self=True))
    end_s: int = field(init=False, eq=False, repr=False,
                       default=Factory(lambda self: int(self.end.timestamp()), takes_self=True))

    @end.validator
    def _ends_after_start(self, _attribute: object, value: datetime) -> None:
        if value <= self.start:
            raise ValueError(f"session {self.id} ends at or before it starts")

    def __attrs_post_init__(self) -> None:
        # One patient (clinician) given as a list is the session of that one alone.
        if self._patients is not None and self._patients == (self.patient,):
            object.__setattr__(self, "_patients", None)
        if self._clinicians is not None and self._clinicians == (self.clinician,):
            object.__setattr__(self, "_clinicians", None)

    @property
    def patients(self) -> tuple[str, ...]:
        """Every patient of the session: a group's, or ``patient`` alone. The first is
        ``patient``, unless the session is another patient's seat (``seat``)."""
        return self._patients or (self.patient,)

    @property
    def clinicians(self) -> tuple[str, ...]:
        """Every clinician of the session (co-therapists), or ``clinician`` alone."""
        return self._clinicians or (self.clinician,)

    @classmethod
    def _from_checked(cls, id: str, patient: str, kind: Kind, start: datetime,
                      end: datetime, clinician: str, modality: str | None = None,
                      route: Route | None = None, dose_mg: float | None = None,
                      zone: str | None = None, start_s: int | None = None,
                      end_s: int | None = None, source: str | None = None,
                      patients: tuple[str, ...] | None = None,
                      clinicians: tuple[str, ...] | None = None,
                      room: str | None = None) -> Session:
        """For kapcheck's loaders: the session of fields already checked as the
        converters and the validator would: ``kind`` a Kind, ``route`` a Route or None,
        ``start`` and ``end`` aware datetimes in UTC, ``end`` after ``start``, and
        ``start_s`` and ``end_s`` (when given) their whole seconds since the epoch.
        Equal to ``Session(...)`` of the same fields, built in a fraction of its time
        (a network file has a million sessions): each slot is set through its own
        descriptor, past the frozen class's ``__setattr__``."""
        self = _new(cls)
        (set_id, set_patient, set_kind, set_start, set_end, set_clinician, set_modality,
         set_route, set_dose, set_zone, set_source, set_start_s, set_end_s, set_patients,
         set_clinicians, set_room) = _SETTERS
        set_id(self, id)
        set_patient(self, patient)
        set_kind(self, kind)
        set_start(self, start)
        set_end(self, end)
        set_clinician(self, clinician)
        set_modality(self, modality)
        set_route(self, route)
        set_dose(self, dose_mg)
        set_zone(self, zone)
        set_source(self, source)
        set_start_s(self, int(start.timestamp()) if start_s is None else start_s)
        set_end_s(self, int(end.timestamp()) if end_s is None else end_s)
        set_patients(self, None if patients is None or len(patients) < 2 else patients)
        set_clinicians(self, None if clinicians is None or len(clinicians) < 2 else clinicians)
        set_room(self, room)
        return self

    @property
    def is_group(self) -> bool:
        """Whether the session has more than one patient."""
        return len(self.patients) > 1

    def seat(self, patient: str | None = None, clinician: str | None = None) -> Session:
        """The session as one of its patients' (and one of its clinicians') timelines
        hold it: the same session, ``patient`` (``clinician``) that one. A rule that reads
        a patient's sessions reads a group session as that patient's; a clinician's
        sessions hold a group session once, as that clinician's."""
        patient = self.patient if patient is None else patient
        clinician = self.clinician if clinician is None else clinician
        if patient == self.patient and clinician == self.clinician:
            return self
        return Session._from_checked(
            self.id, patient, self.kind, self.start, self.end, clinician, self.modality,
            self.route, self.dose_mg, self.zone, self.start_s, self.end_s, self.source,
            self._patients, self._clinicians, self.room)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def order(self) -> tuple[datetime, str]:
        """Sort key: by start, ties by id compared as strings."""
        return (self.start, self.id)


_new = object.__new__
#: The slots' own setters, in ``_from_checked``'s order.
_SETTERS = tuple(vars(Session)[name].__set__ for name in (
    "id", "patient", "kind", "start", "end", "clinician", "modality", "route", "dose_mg",
    "zone", "source", "start_s", "end_s", "_patients", "_clinicians", "room"))


@frozen
class Waiver:
    rule: str
    reason: str
    approved_by: str
    session: str | None = None
    patient: str | None = None
    expires: date | None = None
    #: IANA name of the timezone the expiry day is read in (None: UTC).
    zone: str | None = None
    #: Where it was written, e.g. ``clinic.yaml: waivers[0]``.
    origin: str = ""

    def expired_on(self, as_of: date) -> bool:
        """A waiver holds through its expiry day; it waives nothing after it."""
        return self.expires is not None and as_of > self.expires


def _index(items: Iterable[Any]) -> Mapping[str, Any]:
    return MappingProxyType({item.id: item for item in items})


@frozen
class Skipped:
    """An entry of an export that a mapping's ``[[skip]]`` rule set aside: where it was
    written (as a finding's source names it) and the rule, in words."""

    source: str
    reason: str


@frozen
class Schedule:
    clinicians: tuple[Clinician, ...] = ()
    patients: tuple[Patient, ...] = ()
    sessions: tuple[Session, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    clinic: str | None = None
    timezone: str | None = None
    #: The files (or "<stdin>") the schedule was read from.
    sources: tuple[str, ...] = ()
    #: Entries of exports set aside by a mapping's [[skip]] rules, in file order.
    skipped: tuple[Skipped, ...] = ()
    # Derived, never given: ``attrs.evolve`` builds them anew from the new collections.
    clinician_by_id: Mapping[str, Clinician] = field(
        default=Factory(lambda self: _index(self.clinicians), takes_self=True),
        eq=False, repr=False, init=False,
    )
    patient_by_id: Mapping[str, Patient] = field(
        default=Factory(lambda self: _index(self.patients), takes_self=True),
        eq=False, repr=False, init=False,
    )
    session_by_id: Mapping[str, Session] = field(
        default=Factory(lambda self: _index(self.sessions), takes_self=True),
        eq=False, repr=False, init=False,
    )
    #: Each input the loader read, as (name, SHA-256 of its bytes): the report's
    #: provenance (a copy made with ``attrs.evolve`` keeps none).
    inputs: tuple[tuple[str, str], ...] = field(default=(), init=False, eq=False, repr=False)
    #: Set once the schedule's invariants were checked (protocol/checks.py); a copy
    #: made with ``attrs.evolve`` starts unchecked.
    checked: bool = field(default=False, init=False, eq=False, repr=False)


@frozen
class DiagnosisEntry:
    prefix: str
    modalities: tuple[str, ...]

    @property
    def key(self) -> str:
        return icd_key(self.prefix)


@frozen
class DiagnosisMap:
    """ICD-10-CM prefix -> allowed modalities.

    A diagnosis is covered by every entry whose prefix it starts with (``F43.10`` by
    ``F43.1``, and by ``F43`` if the map has it); the modalities allowed for it are
    those of all the entries that cover it.
    """

    entries: tuple[DiagnosisEntry, ...] = ()

    def entries_for(self, code: str) -> list[DiagnosisEntry]:
        key = icd_key(code)
        return [entry for entry in self.entries if key.startswith(entry.key)]

    def covers(self, code: str) -> bool:
        return bool(self.entries_for(code))

    def modalities_for(self, codes: Iterable[str]) -> frozenset[str]:
        """Modalities (upper case) allowed for at least one of the codes."""
        return frozenset(m.upper() for code in codes for entry in self.entries_for(code)
                         for m in entry.modalities)


@frozen
class RuleSettings:
    """One rule as a protocol defines it: an instance of a template (protocol/templates.py)
    with its parameters, severity and texts."""

    id: str
    severity: Severity
    enabled: bool
    parameters: Mapping[str, Any]
    #: parameter name (and "severity", "enabled", each text) -> the file that set it.
    provenance: Mapping[str, str] = field(factory=dict, eq=False)
    template: str = ""
    title: str = ""
    #: The requirement sentence, with {parameter} placeholders.
    requirement: str = ""
    rationale: str = ""
    #: The document and the place in it (section, paragraph, table row).
    source: str = ""
    #: The source's own words the rule rests on (at most 300 characters), or "clinic's
    #: reading" where the number is the clinic's own.
    evidence: str = ""
    #: The protocol's own wording of a finding's message and suggestion (placeholders
    #: as the template lists them); None: the template's wording.
    message: str | None = None
    suggestion: str | None = None

    def requirement_text(self) -> str:
        """The requirement sentence with this rule's parameter values."""
        return self.requirement.format_map(_Shown(self.parameters, self.template))

    @property
    def anchor_text(self) -> str:
        """What a finding of this rule is attached to."""
        from .templates import TEMPLATES

        return TEMPLATES[self.template].anchor.format_map(_Shown(self.parameters, self.template))


def shown_parameters(rule: RuleSettings) -> dict[str, str]:
    """The rule's parameters as its texts show them, aliases and absent ones included."""
    return dict(_Shown(rule.parameters, rule.template))


class _Shown(dict):  # type: ignore[type-arg]
    """Parameters for a text: values shown as people read them, aliases and defaults
    (none) included."""

    def __init__(self, parameters: Mapping[str, Any], template: str) -> None:
        from .templates import TEMPLATES, show

        super().__init__()
        spec = TEMPLATES.get(template)
        for name, p in (spec.params.items() if spec else ()):
            value = parameters.get(name, parameters.get(p.alias) if p.alias else None)
            self[name] = show(value, p.unit)
            if p.alias:
                self[p.alias] = show(value)
        for name, value in parameters.items():
            unit = spec.params[name].unit if spec and name in spec.params else None
            self[name] = show(value, unit)


@frozen
class Protocol:
    name: str
    version: str
    rules: tuple[RuleSettings, ...]
    diagnoses: DiagnosisMap
    #: The files of the extends chain, the root protocol first.
    files: tuple[str, ...] = ()
    diagnosis_provenance: Mapping[str, str] = field(factory=dict, eq=False)

    def rule(self, rule_id: str) -> RuleSettings:
        for settings in self.rules:
            if settings.id == rule_id:
                return settings
        raise KeyError(rule_id)
