"""What the service's OpenAPI document says beyond what FastAPI infers: the request
bodies (read raw, so FastAPI cannot see them), the ``problems`` shape of every 422, and
the 401, 412 and 413 answers. Client generators and "Try it out" send what is here."""

from __future__ import annotations

from typing import Any

_SESSION = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "kind", "start"],
    "properties": {
        "id": {"type": "string"}, "patient": {"type": "string"},
        "kind": {"enum": ["preparation", "dosing", "integration", "psychotherapy",
                          "assessment"]},
        "start": {"type": "string", "description": "ISO 8601; without an offset, in the "
                                                   "document's timezone"},
        "end": {"type": "string"}, "duration": {"type": "string", "example": "90m"},
        "clinician": {"type": "string"}, "modality": {"type": "string"},
        "route": {"enum": ["IV", "IM", "SL", "oral", "IN"]},
        "dose_mg": {"type": "number"},
        "patients": {"type": "array", "minItems": 1, "uniqueItems": True,
                     "items": {"type": "string"},
                     "description": "A group session's patients, instead of patient"},
        "clinicians": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"type": "string"},
                       "description": "Co-therapists, instead of clinician"},
        "room": {"type": "string", "maxLength": 64},
    },
}
SCHEDULE = {
    "type": "object", "additionalProperties": False,
    "description": "A schedule document (SPEC §1), as JSON.",
    "properties": {
        "schema": {"type": "string", "example": "kapcheck/schedule@1"},
        "clinic": {"type": "string"},
        "timezone": {"type": "string", "example": "America/New_York"},
        "clinicians": {"type": "array", "items": {
            "type": "object", "required": ["id"], "additionalProperties": False,
            "properties": {"id": {"type": "string"}, "roles": {"type": "array", "items": {
                "enum": ["prescriber", "nurse", "therapist"]}}}}},
        "patients": {"type": "array", "items": {
            "type": "object", "required": ["id"], "additionalProperties": False,
            "properties": {"id": {"type": "string"},
                           "diagnoses": {"type": "array", "items": {"type": "string"}},
                           "records": {"type": "object",
                                       "additionalProperties": {"type": "string",
                                                                "format": "date"}}}}},
        "sessions": {"type": "array", "items": _SESSION},
        "waivers": {"type": "array", "items": {"type": "object"}},
    },
}
PROPOSAL = {
    "type": "object", "additionalProperties": False,
    "properties": {"schema": {"type": "string"},
                   "add": {"type": "array", "items": _SESSION},
                   "move": {"type": "array", "items": {"type": "object",
                                                       "required": ["id"]}},
                   "cancel": {"type": "array", "items": {"type": "string"}}},
}
PROBLEMS = {
    "type": "object", "required": ["problems"],
    "properties": {"problems": {"type": "array", "items": {
        "type": "object", "required": ["file", "path", "message"],
        "properties": {"file": {"type": "string"}, "path": {"type": "string"},
                       "line": {"type": ["integer", "null"]},
                       "column": {"type": ["integer", "null"]},
                       "message": {"type": "string"}}}}},
}
UNAUTHORIZED = {"type": "object", "properties": {"error": {"type": "string"},
                                                 "reason": {"type": "string"}}}


def body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


def answers(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an endpoint: 422 with its problems, 401 when the service
    trusts issuers, and the ones named."""
    out: dict[int | str, dict[str, Any]] = {
        422: {"description": "Unusable input: every problem, with its place.",
              "content": {"application/json": {"schema": PROBLEMS}}},
        401: {"description": "With --trust: no valid CDS Hooks JWT (the reason, no key).",
              "content": {"application/json": {"schema": UNAUTHORIZED}}},
    }
    texts = {408: "The body did not arrive in time.",
             412: "A prefetch kapcheck needs is missing (it fetches nothing itself).",
             413: "The body is over 32 MiB."}
    for code in extra:
        out[code] = {"description": texts[code],
                     "content": {"application/json": {"schema": PROBLEMS}}}
    return out


HOOK_REQUEST = {
    "type": "object", "required": ["hook", "context", "prefetch"],
    "description": "A CDS Hooks 2.0 appointment-book call.",
    "properties": {
        "hook": {"const": "appointment-book"}, "hookInstance": {"type": "string"},
        "fhirServer": {"type": "string"},
        "context": {"type": "object", "required": ["patientId", "appointments"],
                    "properties": {"userId": {"type": "string"},
                                   "patientId": {"type": "string"},
                                   "appointments": {"description": "A Bundle of the "
                                                    "proposed Appointments, or a list"}}},
        "prefetch": {"type": "object", "properties": {
            "patient": {"type": ["object", "null"]},
            "conditions": {"type": ["object", "null"]},
            "appointments": {"type": ["object", "null"]},
            "practitionerAppointments": {"type": ["object", "null"]}}},
    },
}
FEEDBACK = {"type": "object", "required": ["feedback"], "properties": {"feedback": {
    "type": "array", "items": {"type": "object", "required": ["card", "outcome"],
                               "properties": {"card": {"type": "string"},
                                              "outcome": {"enum": ["accepted", "overridden"]},
                                              "overrideReason": {"type": "object"}}}}}}

_PART = {"type": "object", "required": ["content"], "additionalProperties": False,
         "properties": {"name": {"type": "string", "description": "Its file name: the "
                                 "ending says its format (.ics, .csv, .yaml, .json)"},
                        "content": {"description": "The document: text, or a JSON value"}}}
MULTI = {
    "type": "object", "required": ["documents"], "additionalProperties": False,
    "description": "Several documents read together as one run (a calendar, a FHIR bundle "
                   "or a CSV beside its roster), with waivers, a mapping file and a timezone; "
                   "problems name each part as <request>: documents[0] (its name).",
    "properties": {"documents": {"type": "array", "items": _PART}, "waivers": _PART,
                   "mapping": _PART, "timezone": {"type": "string"}},
}
