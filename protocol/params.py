"""Protocol parameters: what each kind of value may hold, checked once at the boundary.

A parameter has a unit. Times (``hours``, ``days``, ``minutes``) are finite numbers of
zero or more, at most ten years, that come to a whole number of seconds: kapcheck keeps
times to the second, so ``min_minutes = 120.005`` (7,200.3 s) cannot be honoured
exactly and is refused rather than rounded. ``count`` is a whole number. ``kind`` is a
session kind, ``roles`` a table of session kind to clinician roles, ``dose_table`` a
list of ``[dose_mg, minutes]`` rows with doses ascending, ``flag`` true or false.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from .limits import MAX_PARAMETER_COUNT, MAX_PARAMETER_DAYS, shown
from .model import Kind, Role

#: Seconds in one unit of each time unit.
SECONDS = {"hours": 3600, "days": 86400, "minutes": 60}
UNITS = (*SECONDS, "count", "kind", "roles", "dose_table", "flag", "mg", "record", "role_list",
         "ratio", "ratio_table")
KINDS = tuple(k.value for k in Kind)
ROLES = tuple(r.value for r in Role)
#: The heaviest dose a dose table may name, in mg.
MAX_DOSE_MG = 100_000
#: Rows of a dose table (Oregon's ratio table has six).
MAX_DOSE_ROWS = 100


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def time_problem(value: Any, unit: str) -> str | None:
    if not is_number(value) or not math.isfinite(value):
        return f"expected a number of {unit}, got {shown(value)}"
    if value < 0:
        return f"expected a number of {unit} of zero or more, got {shown(value)}"
    if value * SECONDS[unit] > MAX_PARAMETER_DAYS * 86400:
        return f"expected at most {MAX_PARAMETER_DAYS} days, got {shown(value)} {unit}"
    exact = value * SECONDS[unit]
    if abs(exact - round(exact)) > 1e-6:
        return (f"{shown(value)} {unit} is {exact:.6g} seconds; kapcheck keeps times to "
                "the second, so give a value that comes to a whole number of seconds")
    return None


def to_seconds(value: float, unit: str) -> int:
    """A checked time parameter as whole seconds (exact: see ``time_problem``)."""
    return int(round(value * SECONDS[unit]))


def problem(unit: str, value: Any) -> str | None:
    """What is wrong with ``value`` as a parameter of that unit, or None."""
    if unit in SECONDS:
        return time_problem(value, unit)
    if unit == "count":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected a whole number, got {shown(value)}"
        if not 0 <= value <= MAX_PARAMETER_COUNT:
            return f"expected a whole number from 0 to {MAX_PARAMETER_COUNT}, got {shown(value)}"
        return None
    if unit == "flag":
        if not isinstance(value, bool):
            return f"expected true or false, got {shown(value)}"
        return None
    if unit == "kind":
        if not isinstance(value, str) or value not in KINDS:
            return f"expected a session kind ({', '.join(KINDS)}), got {shown(value)}"
        return None
    if unit == "roles":
        return _roles_problem(value)
    if unit == "role_list":
        if not isinstance(value, (list, tuple)) or any(
                not isinstance(r, str) or r not in ROLES for r in value):
            return f"expected a list of roles from {', '.join(ROLES)}, got {shown(value)}"
        return None
    if unit == "mg":
        if not is_number(value) or not math.isfinite(value) or not 0 <= value <= MAX_DOSE_MG:
            return f"expected a dose from 0 to {MAX_DOSE_MG} mg, got {shown(value)}"
        if abs(value * 1000 - round(value * 1000)) > 1e-6:
            return "a dose is kept to the microgram (three decimals of mg)"
        return None
    if unit == "record":
        from .model import RECORD_NAME

        if not isinstance(value, str) or not RECORD_NAME.match(value):
            return ("expected a record name (lower-case letters, digits and hyphens, starting "
                    f"with a letter), got {shown(value)}")
        return None
    if unit == "ratio":
        return ratio_problem(value)
    if unit == "ratio_table":
        return _dose_table_problem(value, "patients per clinician", ratio_problem, "25")
    if unit == "dose_table":
        return _dose_table_problem(value)
    raise ValueError(f"unknown parameter unit {unit!r}")


def _roles_problem(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "expected a table of session kind = [roles]"
    for kind, roles in value.items():
        if (why := roles_entry_problem(kind, roles)) is not None:
            return f"{str(kind)[:20]}: {why}"
    return None


def roles_entry_problem(kind: Any, roles: Any) -> str | None:
    """One row of a roles table: a session kind and the roles that may run it."""
    if not isinstance(kind, str) or kind not in KINDS:
        return f"unknown session kind; expected one of {', '.join(KINDS)}"
    if not isinstance(roles, (list, tuple)) or any(
            not isinstance(r, str) or r not in ROLES for r in roles):
        return f"expected a list of roles from {', '.join(ROLES)}, got {shown(roles)}"
    return None


def ratio_problem(value: Any) -> str | None:
    """What is wrong with a number of patients per clinician (more than zero, kept to
    three decimals so that a ratio compares exactly), or None."""
    if not is_number(value) or not math.isfinite(value) or not 0 < value <= MAX_PARAMETER_COUNT:
        return (f"expected a number of patients per clinician, more than 0 and at most "
                f"{MAX_PARAMETER_COUNT}, got {shown(value)}")
    if abs(value * 1000 - round(value * 1000)) > 1e-6:
        return f"a ratio is kept to three decimals, got {shown(value)}"
    return None


def ratio(value: float) -> Fraction:
    """A checked ratio, exactly (three decimals at most: ``ratio_problem``)."""
    return Fraction(round(value * 1000), 1000)


def _dose_table_problem(value: Any, what: str = "minutes",
                        check: Any = None, example: str = "60") -> str | None:
    if not isinstance(value, (list, tuple)) or not value:
        return f"expected rows [dose_mg, {what}], such as [[0, {example}], [5, 120]]"
    if len(value) > MAX_DOSE_ROWS:
        return f"expected at most {MAX_DOSE_ROWS} rows, got {len(value):,}"
    previous = None
    for i, row in enumerate(value):
        if (not isinstance(row, (list, tuple)) or len(row) != 2
                or not all(is_number(x) and math.isfinite(x) for x in row)):
            return f"row {i + 1}: expected [dose_mg, {what}], got {shown(row)}"
        dose, minutes = row
        if not 0 <= dose <= MAX_DOSE_MG:
            return f"row {i + 1}: expected a dose from 0 to {MAX_DOSE_MG} mg, got {shown(dose)}"
        if abs(dose * 1000 - round(dose * 1000)) > 1e-6:
            return f"row {i + 1}: a dose is kept to the microgram (three decimals of mg)"
        why = time_problem(minutes, "minutes") if check is None else check(minutes)
        if why is not None:
            return f"row {i + 1}: {why}"
        if previous is not None and dose <= previous:
            return f"row {i + 1}: doses must ascend; {shown(dose)} follows {shown(previous)}"
        previous = dose
    return None
