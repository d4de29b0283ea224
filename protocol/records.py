"""A session as most documents write it, decoded by msgspec into a typed record.

A large JSON schedule's sessions array is decoded a run of items at a time straight
into ``SessionRecord``s: msgspec checks each field's type in C (ids as non-empty text,
a known kind and route, a dose as a number, no unknown key), and the loader's quick
path builds the session from the record. Whatever is not such a record (a field of the
wrong type, an unknown key, a duplicate key, anything msgspec reads otherwise than the
standard library) is read item by item by the reader, which reports it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .limits import MAX_NAME_CHARS, MAX_TEXT_CHARS
from .model import Kind, Route

_Id = Annotated[str, msgspec.Meta(min_length=1)]


class SessionRecord(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """A session's fields as written, each of the type the model takes (times still as
    text); an absent field is None."""

    id: _Id
    kind: Kind
    start: str
    patient: _Id | None = None
    clinician: _Id | None = None
    #: A group's patients and co-therapists (SPEC §11): one of each pair is given, which
    #: the quick path checks (else the reader reports it).
    patients: list[_Id] | None = None
    clinicians: list[_Id] | None = None
    end: str | None = None
    duration: str | None = None
    modality: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    route: Route | None = None
    dose_mg: int | float | None = None
    room: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)] | None = None


_RUN = msgspec.json.Decoder(list[SessionRecord])
_encode = msgspec.json.Encoder().encode


def decode_run(piece: bytes) -> list[SessionRecord] | None:
    """The records of ``piece``, the text of whole items of an array (``{...}, {...}``),
    if every item is a session record and the run reads as the standard library reads
    it; else None, and the caller reads the items one by one.

    msgspec reads every number as the standard library does (an integer past 64 bits
    too), refuses NaN and infinite floats, and keeps the last of two keys silently. A
    dropped key is seen by its colon: without a backslash in the run, every colon of it
    is a key's or one written in a string, and the records written again have as many
    only if no key was dropped. (A key written with the value null is not written
    again either: such a run is read item by item, as it may be.)
    """
    if b"\\" in piece:
        return None
    try:
        records = _RUN.decode(b"[" + piece + b"]")
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    if piece.count(b":") != _encode(records).count(b":"):
        return None
    return records


def record(item: Any) -> SessionRecord | None:
    """The record of a session mapping read from a document, if it is one."""
    try:
        return msgspec.convert(item, SessionRecord)
    except (msgspec.ValidationError, RecursionError):
        return None
