"""The rule templates, one module each: its durable_rules rulesets, its verdict, its
texts. ``MODULES`` maps a template's name (protocol/templates.py) to its module."""

from __future__ import annotations

from types import ModuleType

from . import (
    after_each,
    before_each,
    before_first,
    clinician_overlap,
    count_in_span,
    diagnosis_covered,
    first_dose,
    group_ratio,
    min_clinicians,
    min_duration,
    modality_map,
    patient_overlap,
    recorded_before_first,
    roles,
    room_overlap,
    same_clinician,
    spacing,
)

MODULES: dict[str, ModuleType] = {
    "before-first": before_first,
    "after-each": after_each,
    "spacing": spacing,
    "count-in-span": count_in_span,
    "min-duration": min_duration,
    "modality-map": modality_map,
    "diagnosis-covered": diagnosis_covered,
    "patient-overlap": patient_overlap,
    "clinician-overlap": clinician_overlap,
    "roles": roles,
    "before-each": before_each,
    "same-clinician": same_clinician,
    "recorded-before-first": recorded_before_first,
    "first-dose": first_dose,
    "min-clinicians": min_clinicians,
    "group-ratio": group_ratio,
    "room-overlap": room_overlap,
}
