"""Protocols as data: the shipped TOML protocols and a clinic's own, with ``extends``.

A root protocol (no ``extends``) declares every rule with its severity, enablement and
parameters; a protocol that extends another may change only what its base declares.
Every value remembers the file that set it, so ``kapcheck rules`` can say where an
effective parameter came from.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import params
from .documents import read_bytes
from .errors import Problem, Problems, ProtocolError
from .limits import (
    MAX_MAP_ENTRIES,
    MAX_MAP_MODALITIES,
    MAX_NAME_CHARS,
    MAX_SMALL_FILE_BYTES,
    MAX_TEXT_CHARS,
    clip,
    shown,
)
from .model import DiagnosisEntry, DiagnosisMap, Protocol, RuleSettings, Severity
from .templates import (
    REQUIRED,
    RULE_KEYS,
    TEMPLATES,
    TEXT_KEYS,
    TemplateSpec,
    default_requirement,
)

#: A rule's ``evidence``: the words of its source it rests on, quoted (SPEC 9.1).
MAX_EVIDENCE_CHARS = 300

DEFAULT = "kap"
# A prefix of a code kapcheck reads (protocol/checks.py: ICD_CODE): a letter, then a
# digit, then one more, then up to four after an optional dot.
_PREFIX = re.compile(r"^[A-Z](?:[0-9](?:[0-9A-Z](?:\.?[0-9A-Z]{0,4})?)?)?$")
_RULE_KEYS = ("severity", "enabled")
_RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$")


def shipped_protocols() -> list[str]:
    """Names of the protocols that ship inside kapcheck."""
    folder = resources.files("kapcheck.protocol") / "shipped"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _shipped_text(name: str) -> str | None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        return None
    item = resources.files("kapcheck.protocol") / "shipped" / f"{name}.toml"
    return item.read_text(encoding="utf-8") if item.is_file() else None


class _Layer:
    """One file of an extends chain, parsed."""

    def __init__(self, label: str, data: dict[str, Any], base_dir: Path | None) -> None:
        self.label = label
        self.data = data
        self.base_dir = base_dir


def _read(ref: str, directory: Path | None, root: Path | None, problems: list[Problem],
          via: str) -> tuple[str, str, Path | None] | None:
    """(label, text, directory) for a shipped name or a protocol file.

    ``directory`` is the folder of the file whose ``extends`` names ``ref`` (None for
    the protocol the caller names, or for a shipped protocol, which extends only
    shipped ones). An ``extends`` path is relative to its file and must stay inside
    the folder tree of the protocol the caller named (``root``): a protocol file
    cannot make kapcheck read, or echo keys and values of, files elsewhere.
    """
    where = "protocol.extends" if directory is not None or via != ref else ""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in ref):
        problems.append(Problem(via, where, f"{shown(ref)} holds a control character; "
                                            "expected a shipped protocol's name or a path"))
        return None
    looks_like_path = ref.endswith(".toml") or "/" in ref or "\\" in ref
    if not looks_like_path:
        text = _shipped_text(ref)
        if text is not None:
            return f"{ref} (shipped)", text, None
    shipped = ", ".join(shipped_protocols())
    if via != ref and directory is None:  # a shipped protocol names no files
        problems.append(Problem(via, where, f"{shown(ref)} is not a shipped protocol ({shipped})"))
        return None
    path = Path(ref)
    if directory is not None:
        if path.is_absolute():
            problems.append(Problem(via, where, "expected a shipped protocol's name or a path "
                                                "relative to this file, not an absolute path"))
            return None
        path = directory / path
        if root is not None and not path.resolve().is_relative_to(root):
            problems.append(Problem(via, where, f"{shown(ref)} lies outside the folder of the "
                                                f"protocol given ({root}); extends stays "
                                                "inside it"))
            return None
    file_problems = Problems(str(path))
    data = read_bytes(path, file_problems, limit=MAX_SMALL_FILE_BYTES)
    if data is None:
        if any(p.message == "no such file" for p in file_problems.items):
            problems.append(Problem(via, where, f"{shown(ref)} is neither a shipped protocol "
                                                f"({shipped}) nor a protocol file"))
        else:
            problems.extend(file_problems.items)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), "", f"is not UTF-8 text (byte {exc.start})"))
        return None
    return str(path), text, path.resolve().parent


def _chain(ref: str) -> list[_Layer]:
    """The extends chain, root first; ProtocolError on unreadable files or a cycle."""
    problems: list[Problem] = []
    layers: list[_Layer] = []
    seen: list[str] = []
    directory: Path | None = None
    root: Path | None = None
    via = ref
    while True:
        found = _read(ref, directory, root, problems, via)
        if found is None:
            break
        label, text, folder = found
        if root is None and folder is not None and not layers:
            root = folder
        key = label if folder is None else str(Path(label).resolve())
        if key in seen:
            problems.append(Problem(label, "protocol.extends",
                                    "extends forms a cycle: " + " -> ".join(seen + [key])))
            break
        seen.append(key)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(label, "", f"is not valid TOML: {clip(str(exc))}"))
            break
        except RecursionError:
            problems.append(Problem(label, "", "is nested too deeply"))
            break
        layers.append(_Layer(label, data, folder))
        header = data.get("protocol")
        extends = header.get("extends") if isinstance(header, dict) else None
        if extends is None:
            break
        if not isinstance(extends, str) or not extends or len(extends) > 1024:
            problems.append(Problem(label, "protocol.extends",
                                    "expected a shipped protocol's name or a relative path"))
            break
        ref, via, directory = extends, label, folder
    if problems:
        raise ProtocolError(problems)
    return list(reversed(layers))


def load_protocol(ref: str | Path = DEFAULT) -> Protocol:
    """A shipped protocol by name (``kap``) or a TOML file, with its extends chain."""
    layers = _chain(str(ref))
    rules: dict[str, _Draft] = {}
    diagnoses: dict[str, DiagnosisEntry] = {}
    diagnosis_provenance: dict[str, str] = {}
    name = version = ""
    all_problems: list[Problem] = []
    for depth, layer in enumerate(layers):
        problems = Problems(layer.label)
        root = depth == 0
        data = layer.data
        for key in data:
            if key not in ("protocol", "rules", "diagnoses"):
                problems.add(str(key)[:MAX_NAME_CHARS],
                             "unknown key; expected protocol, rules or diagnoses")
        header = data.get("protocol")
        if not isinstance(header, dict):
            problems.add("protocol", "the [protocol] table with name and version is required")
            header = {}
        for key in header:
            if key not in ("name", "version", "extends", "description"):
                problems.add(f"protocol.{str(key)[:MAX_NAME_CHARS]}",
                             "unknown key; expected name, version, extends, description")
        if not isinstance(header.get("name"), str) or not header.get("name") \
                or len(header["name"]) > MAX_NAME_CHARS:
            problems.add("protocol.name", f"expected the protocol's name (text of at most "
                                          f"{MAX_NAME_CHARS} characters)")
        else:
            name = header["name"]
        if header.get("version") is not None and (not isinstance(header.get("version"), str)
                                                  or len(header["version"]) > MAX_NAME_CHARS):
            problems.add("protocol.version", 'expected text such as "2026.1"')
        version = str(header.get("version", "")) if isinstance(header.get("version"), str) \
            else ("" if root else version)
        table = data.get("rules", {})
        if not isinstance(table, dict):
            problems.add("rules", "expected tables [rules.RULE-ID]")
            table = {}
        for rule_id, entry in table.items():
            _read_rule(problems, rules, rule_id, entry, layer.label)
        table = data.get("diagnoses", {})
        if not isinstance(table, dict):
            problems.add("diagnoses", "expected a table of ICD-10-CM prefix = [modalities]")
            table = {}
        if len(table) > MAX_MAP_ENTRIES:
            problems.add("diagnoses", f"at most {MAX_MAP_ENTRIES} prefixes")
            table = {}
        if "replace" in table:
            flag = table["replace"]
            if not isinstance(flag, bool):
                problems.add("diagnoses.replace", f"expected true or false, got {shown(flag)}")
            elif flag and root:
                problems.add("diagnoses.replace", "replaces the diagnosis map of the protocol "
                             "this one extends: a protocol that extends none has no map to "
                             "replace")
            elif flag:
                diagnoses.clear()
                diagnosis_provenance.clear()
            table = {k: v for k, v in table.items() if k != "replace"}
        for prefix, modalities in table.items():
            dpath = f'diagnoses."{prefix[:MAX_NAME_CHARS]}"'
            if not _PREFIX.match(prefix.strip().upper()):
                problems.add(dpath, "expected an ICD-10-CM code prefix such as F33 or F43.1")
                continue
            if not isinstance(modalities, list) or len(modalities) > MAX_MAP_MODALITIES or not all(
                    isinstance(m, str) and m.strip() and len(m) <= MAX_NAME_CHARS
                    for m in modalities):
                problems.add(dpath, f'expected a list of modalities such as ["CBT", "PDT"] '
                                    f"(at most {MAX_MAP_MODALITIES}, each at most "
                                    f"{MAX_NAME_CHARS} characters), got {shown(modalities)}")
                continue
            entry = DiagnosisEntry(prefix.strip().upper(), tuple(m.strip() for m in modalities))
            diagnoses[entry.key] = entry
            diagnosis_provenance[entry.key] = layer.label
        all_problems.extend(problems.items)
    settings = []
    for rule_id, draft in rules.items():
        built = _finish_rule(rule_id, draft, all_problems)
        if built is not None:
            settings.append(built)
    if all_problems:
        raise ProtocolError(all_problems)
    return Protocol(
        name=name,
        version=version,
        rules=tuple(settings),
        diagnoses=DiagnosisMap(tuple(diagnoses.values())),
        files=tuple(layer.label for layer in layers),
        diagnosis_provenance=MappingProxyType(diagnosis_provenance),
    )


class _Draft:
    """One rule as the layers of an extends chain build it up."""

    def __init__(self, template: TemplateSpec, label: str) -> None:
        self.template = template
        self.defined_in = label
        self.severity = Severity.ERROR
        self.enabled = True
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self.provenance: dict[str, str] = {}
        #: Parameters given with a value that was refused (reported once, not again as
        #: missing).
        self.refused: set[str] = set()


def _read_rule(problems: Problems, rules: dict[str, _Draft], rule_id: Any, entry: Any,
               label: str) -> None:
    """One ``[rules.ID]`` table of one layer: a new rule (it names its template) or
    changes to an inherited one. Every problem is recorded; nothing is raised."""
    path = f"rules.{str(rule_id)[:MAX_NAME_CHARS]}"
    if not _RULE_ID.match(rule_id) or len(rule_id) > MAX_NAME_CHARS:
        problems.add(path, "expected a rule id of capital letters, digits and dashes such as "
                           f"KAP-INT-001 (at most {MAX_NAME_CHARS} characters)")
        return
    if not isinstance(entry, dict):
        problems.add(path, "expected a table of template, severity, enabled, texts and "
                           "parameters")
        return
    draft = rules.get(rule_id)
    named = entry.get("template")
    if named is not None and (not isinstance(named, str) or named not in TEMPLATES):
        problems.add(f"{path}.template", f"unknown template {shown(named)}; expected one of "
                                         f"{', '.join(TEMPLATES)}")
        return
    if draft is None:
        if named is None:
            problems.add(path, "unknown rule: a new rule names its template "
                               f"(template = one of {', '.join(TEMPLATES)})"
                         + (f"; the protocol has {', '.join(rules)}" if rules else ""))
            return
        draft = rules[rule_id] = _Draft(TEMPLATES[named], label)
    elif named is not None and named != draft.template.name:
        problems.add(f"{path}.template", f"{rule_id} is a {draft.template.name} rule "
                                         f"({draft.defined_in}); a protocol that extends it "
                                         "cannot change its template")
        return
    spec = draft.template
    aliases: dict[str, str] = {p.alias: name for name, p in spec.params.items() if p.alias}
    for key, value in entry.items():
        kpath = f"{path}.{str(key)[:MAX_NAME_CHARS]}"
        if key == "template":
            continue
        if key == "severity":
            try:
                draft.severity = Severity(value)
                draft.provenance["severity"] = label
            except (ValueError, TypeError):
                problems.add(kpath, f'expected "error" or "warning", got {shown(value)}')
        elif key == "enabled":
            if isinstance(value, bool):
                draft.enabled = value
                draft.provenance["enabled"] = label
            else:
                problems.add(kpath, f"expected true or false, got {shown(value)}")
        elif key in TEXT_KEYS:
            limit = MAX_EVIDENCE_CHARS if key == "evidence" else MAX_TEXT_CHARS
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                problems.add(kpath, f"expected text of at most {limit} characters"
                             + (f", got {len(value)}" if isinstance(value, str) else ""))
            else:
                draft.texts[key] = value.strip()
                draft.provenance[key] = label
        elif key in spec.params or key in aliases:
            canonical = str(aliases.get(key, key))
            twin = spec.params[canonical].alias if key == canonical else canonical
            if twin is not None and twin in entry:
                problems.add(kpath, f"give {canonical} or {twin}, not both")
                continue
            unit = spec.params[canonical].unit
            if unit == "roles" and isinstance(value, dict):
                bad = [(kind, why) for kind, roles in value.items()
                       if (why := params.roles_entry_problem(kind, roles)) is not None]
                for kind, why in bad:
                    problems.add(f"{kpath}.{str(kind)[:MAX_NAME_CHARS]}", why)
                if bad:
                    draft.refused.add(canonical)
                    continue
                if isinstance(draft.values.get(key), Mapping):
                    value = {**draft.values[key], **value}  # a layer changes the kinds it names
            if (why := params.problem(unit, value)) is not None:
                problems.add(kpath, why)
                draft.refused.add(canonical)
                continue
            if twin is not None:
                draft.values.pop(twin, None)
            draft.values[key] = value
            draft.provenance[key] = label
        else:
            known = [*RULE_KEYS, *spec.params, *aliases]
            problems.add(kpath, f"unknown parameter of {rule_id} (a {spec.name} rule); "
                                f"expected one of {', '.join(known)}")


def _finish_rule(rule_id: str, draft: _Draft, problems: list[Problem]) -> RuleSettings | None:
    """The rule with its defaults, once every layer is read; None (with problems) if a
    required parameter or text is missing or a text names an unknown placeholder."""
    spec = draft.template
    before = len(problems)
    values: dict[str, Any] = {}
    for name, p in spec.params.items():
        given = name if name in draft.values else p.alias if p.alias in draft.values else None
        if given is not None:
            values[given] = draft.values[given]
        elif p.default is REQUIRED:
            if name not in draft.refused:  # else its value's problem is reported
                problems.append(Problem(draft.defined_in, f"rules.{rule_id}.{name}",
                                        f"is required by the {spec.name} template"))
        elif p.default is not None:
            values[name] = p.default
    if values.get("max_hours") is not None and values.get("min_hours") is not None \
            and values["max_hours"] < values["min_hours"]:
        problems.append(Problem(draft.provenance.get("max_hours", draft.defined_in),
                                f"rules.{rule_id}.max_hours",
                                "is less than min_hours: no spacing could keep both"))
    for low, high, why in (("from_day", "until_day", "a phase ends after it begins"),
                           ("min_hours_before", "max_hours_before",
                            "the window opens before it closes"),
                           ("min_days_before", "max_days_before",
                            "the window opens before it closes")):
        floor = values.get(low) if values.get(low) is not None else (
            0 if low == "from_day" else None)
        if values.get(high) is not None and floor is not None and (
                values[high] <= floor if low == "from_day" else values[high] < floor):
            problems.append(Problem(draft.provenance.get(high, draft.defined_in),
                                    f"rules.{rule_id}.{high}",
                                    f"is {'at most' if low == 'from_day' else 'less than'} "
                                    f"{low}: {why}"))
    if spec.name == "group-ratio" and values.get("max_patients_per_clinician") is None \
            and not values.get("by_dose_mg") and "max_patients_per_clinician" not in draft.refused \
            and "by_dose_mg" not in draft.refused:
        problems.append(Problem(draft.defined_in, f"rules.{rule_id}.max_patients_per_clinician",
                                "is required by the group-ratio template unless by_dose_mg "
                                "gives the ratio by dose"))
    if spec.name == "recorded-before-first":  # dates are compared as whole days
        for key in ("min_days_before", "max_days_before"):
            if values.get(key) is not None and float(values[key]) != int(values[key]):
                problems.append(Problem(draft.provenance.get(key, draft.defined_in),
                                        f"rules.{rule_id}.{key}", "records are dated: give a "
                                        f"whole number of days, got {values[key]}"))
    if "title" not in draft.texts:
        problems.append(Problem(draft.defined_in, f"rules.{rule_id}.title",
                                "is required: a short name for the rule"))
    names = set(values) | set(spec.params) | {p.alias for p in spec.params.values() if p.alias}
    for key in ("requirement", "message", "suggestion"):
        text = draft.texts.get(key)
        if text is None:
            continue
        allowed = names if key == "requirement" else names | set(spec.fields)
        where = draft.provenance.get(key, draft.defined_in)
        if key != "requirement" and not spec.fields:
            problems.append(Problem(where, f"rules.{rule_id}.{key}",
                                    f"the {spec.name} template writes its own {key}s"))
            continue
        for field_name in _placeholders(text, where, f"rules.{rule_id}.{key}", problems):
            if field_name not in allowed:
                problems.append(Problem(where, f"rules.{rule_id}.{key}",
                                        f"unknown placeholder {{{field_name}}}; expected one "
                                        f"of {', '.join('{' + n + '}' for n in sorted(allowed))}"))
    if len(problems) > before or draft.refused:
        return None
    return RuleSettings(
        id=rule_id, severity=draft.severity, enabled=draft.enabled,
        parameters=MappingProxyType(_freeze(values)),
        provenance=MappingProxyType(dict(draft.provenance)),
        template=spec.name, title=draft.texts["title"],
        requirement=draft.texts.get("requirement", default_requirement(spec, values)),
        rationale=draft.texts.get("rationale", ""), source=draft.texts.get("source", ""),
        evidence=draft.texts.get("evidence", ""),
        message=draft.texts.get("message"), suggestion=draft.texts.get("suggestion"),
    )


def _placeholders(text: str, file: str, path: str, problems: list[Problem]) -> list[str]:
    """The names of a text's placeholders. A placeholder is a bare name (``{session}``):
    a format spec (``{session:d}``, ``{session:>300000000}``), a conversion (``!r``),
    an attribute or an index would fail on a value or write without bound, so each is a
    problem."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        problems.append(Problem(file, path, f"is not a valid text with {{placeholders}}: {exc}"))
        return []
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            shown_field = "{" + name + (f"!{conversion}" if conversion else "") + (
                f":{spec}" if spec else "") + "}"
            problems.append(Problem(file, path, f"{shown(shown_field)}: a placeholder is a "
                                                "bare name such as {session}, with no format "
                                                "spec, conversion, attribute or index"))
            continue
        names.append(name)
    return names


def _freeze(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out[key] = MappingProxyType({k: tuple(v) if isinstance(v, list) else v
                                         for k, v in value.items()})
        elif isinstance(value, list):
            out[key] = tuple(value)
        else:
            out[key] = value
    return out
