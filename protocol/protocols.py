"""Protocols as data: the shipped TOML protocols and a clinic's own, with ``extends``.

A root protocol (no ``extends``) declares every rule with its severity, enablement and
parameters; a protocol that extends another may change only what its base declares.
Every value remembers the file that set it, so ``kapcheck rules`` can say where an
effective parameter came from.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import Problem, Problems, ProtocolError
from .model import DiagnosisEntry, DiagnosisMap, Kind, Protocol, Role, RuleSettings, Severity

DEFAULT = "kap"
_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{0,2}(?:\.?[0-9A-Z]{0,4})?$")
_RULE_KEYS = ("severity", "enabled")


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


def _read(ref: str, relative_to: Path | None, problems: list[Problem],
          via: str) -> tuple[str, str, Path | None] | None:
    """(label, text, directory) for a shipped name or a path."""
    looks_like_path = ref.endswith(".toml") or "/" in ref or "\\" in ref
    if not looks_like_path:
        text = _shipped_text(ref)
        if text is not None:
            return f"{ref} (shipped)", text, None
    path = Path(ref)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if not path.is_file():
        shipped = ", ".join(shipped_protocols())
        problems.append(Problem(via, "extends" if relative_to is not None else "",
                                f"{ref!r} is neither a shipped protocol ({shipped}) "
                                f"nor a protocol file"))
        return None
    try:
        return str(path), path.read_text(encoding="utf-8"), path.resolve().parent
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), "", f"cannot be read: {exc}"))
        return None


def _chain(ref: str) -> list[_Layer]:
    """The extends chain, root first; ProtocolError on unreadable files or a cycle."""
    problems: list[Problem] = []
    layers: list[_Layer] = []
    seen: list[str] = []
    relative_to: Path | None = None
    via = "--protocol"
    while True:
        found = _read(ref, relative_to, problems, via)
        if found is None:
            break
        label, text, directory = found
        key = label if directory is None else str(Path(label).resolve())
        if key in seen:
            problems.append(Problem(label, "protocol.extends",
                                    "extends forms a cycle: " + " -> ".join(seen + [key])))
            break
        seen.append(key)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(label, "", f"is not valid TOML: {exc}"))
            break
        layers.append(_Layer(label, data, directory))
        header = data.get("protocol")
        extends = header.get("extends") if isinstance(header, dict) else None
        if extends is None:
            break
        if not isinstance(extends, str) or not extends:
            problems.append(Problem(label, "protocol.extends",
                                    "expected a shipped protocol's name or a relative path"))
            break
        ref, via = extends, label
        relative_to = directory if directory is not None else None
        if relative_to is None and not _shipped_text(extends):
            # a shipped protocol extends only shipped ones
            relative_to = Path.cwd()
    if problems:
        raise ProtocolError(problems)
    return list(reversed(layers))


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list of text"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _same_type(base: Any, value: Any) -> bool:
    if isinstance(base, bool) or isinstance(value, bool):
        return isinstance(base, bool) and isinstance(value, bool)
    if isinstance(base, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(base, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, type(base))


def _check_value(problems: Problems, path: str, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        problems.add(path, "expected a number of zero or more")


def load_protocol(ref: str | Path = DEFAULT) -> Protocol:
    """A shipped protocol by name (``kap``) or a TOML file, with its extends chain."""
    layers = _chain(str(ref))
    rules: dict[str, dict[str, Any]] = {}
    provenance: dict[str, dict[str, str]] = {}
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
                problems.add(key, "unknown key; expected protocol, rules or diagnoses")
        header = data.get("protocol")
        if not isinstance(header, dict):
            problems.add("protocol", "the [protocol] table with name and version is required")
            header = {}
        for key in header:
            if key not in ("name", "version", "extends", "description"):
                problems.add(f"protocol.{key}", "unknown key; expected name, version, extends")
        if not isinstance(header.get("name"), str) or not header.get("name"):
            problems.add("protocol.name", "expected the protocol's name (text)")
        else:
            name = header["name"]
        if header.get("version") is not None and not isinstance(header.get("version"), str):
            problems.add("protocol.version", 'expected text such as "2026.1"')
        version = str(header.get("version", "")) if isinstance(header.get("version"), str) \
            else ("" if root else version)
        table = data.get("rules", {})
        if not isinstance(table, dict):
            problems.add("rules", "expected tables [rules.RULE-ID]")
            table = {}
        for rule_id, settings in table.items():
            path = f"rules.{rule_id}"
            if not isinstance(settings, dict):
                problems.add(path, "expected a table of severity, enabled and parameters")
                continue
            if not root and rule_id not in rules:
                problems.add(path, f"unknown rule; {layers[0].label} declares "
                                   f"{', '.join(rules)}")
                continue
            current = rules.setdefault(rule_id, {"severity": Severity.ERROR, "enabled": True,
                                                 "parameters": {}})
            where = provenance.setdefault(rule_id, {})
            for key, value in settings.items():
                kpath = f"{path}.{key}"
                if key == "severity":
                    try:
                        current["severity"] = Severity(value)
                        where["severity"] = layer.label
                    except (ValueError, TypeError):
                        problems.add(kpath, f'expected "error" or "warning", got {value!r}')
                elif key == "enabled":
                    if isinstance(value, bool):
                        current["enabled"] = value
                        where["enabled"] = layer.label
                    else:
                        problems.add(kpath, f"expected true or false, got {value!r}")
                elif root:
                    current["parameters"][key] = value
                    where[key] = layer.label
                    _check_value(problems, kpath, value)
                elif key not in current["parameters"]:
                    known = ", ".join(list(_RULE_KEYS) + list(current["parameters"]))
                    problems.add(kpath, f"unknown parameter of {rule_id}; expected one of {known}")
                else:
                    base = current["parameters"][key]
                    if not _same_type(base, value):
                        problems.add(kpath, f"expected {_type_name(base)}, got {value!r}")
                    elif isinstance(base, dict):
                        merged = dict(base)
                        for sub, subvalue in value.items():
                            if sub in base and not _same_type(base[sub], subvalue):
                                problems.add(f"{kpath}.{sub}",
                                             f"expected {_type_name(base[sub])}, got {subvalue!r}")
                            merged[sub] = subvalue
                        current["parameters"][key] = merged
                        where[key] = layer.label
                    else:
                        _check_value(problems, kpath, value)
                        current["parameters"][key] = value
                        where[key] = layer.label
        _check_roles(problems, rules, provenance, layer.label)
        table = data.get("diagnoses", {})
        if not isinstance(table, dict):
            problems.add("diagnoses", "expected a table of ICD-10-CM prefix = [modalities]")
            table = {}
        for prefix, modalities in table.items():
            dpath = f'diagnoses."{prefix}"'
            if not _PREFIX.match(prefix.strip().upper()):
                problems.add(dpath, "expected an ICD-10-CM code prefix such as F33 or F43.1")
                continue
            if not isinstance(modalities, list) or not all(
                    isinstance(m, str) and m.strip() for m in modalities):
                problems.add(dpath, f'expected a list of modalities such as ["CBT", "PDT"], '
                                    f"got {modalities!r}")
                continue
            entry = DiagnosisEntry(prefix.strip().upper(), tuple(m.strip() for m in modalities))
            diagnoses[entry.key] = entry
            diagnosis_provenance[entry.key] = layer.label
        all_problems.extend(problems.items)
    if all_problems:
        raise ProtocolError(all_problems)
    return Protocol(
        name=name,
        version=version,
        rules=tuple(
            RuleSettings(rule_id, s["severity"], s["enabled"],
                         MappingProxyType(_freeze(s["parameters"])),
                         MappingProxyType(provenance.get(rule_id, {})))
            for rule_id, s in rules.items()
        ),
        diagnoses=DiagnosisMap(tuple(diagnoses.values())),
        files=tuple(layer.label for layer in layers),
        diagnosis_provenance=MappingProxyType(diagnosis_provenance),
    )


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


def _check_roles(problems: Problems, rules: Mapping[str, Mapping[str, Any]],
                 provenance: Mapping[str, Mapping[str, str]], label: str) -> None:
    """Tables keyed by session kind and listing clinician roles (KAP-ROLE-001's ``roles``)."""
    for rule_id, settings in rules.items():
        for key, value in settings["parameters"].items():
            if key != "roles" or not isinstance(value, dict):
                continue
            if provenance.get(rule_id, {}).get(key) != label:
                continue
            for kind, roles in value.items():
                path = f"rules.{rule_id}.{key}.{kind}"
                if kind not in {k.value for k in Kind}:
                    problems.add(path, f"unknown session kind; expected one of "
                                       f"{', '.join(k.value for k in Kind)}")
                if not isinstance(roles, list) or any(
                        r not in {x.value for x in Role} for r in roles):
                    problems.add(path, f"expected a list of roles from "
                                       f"{', '.join(r.value for r in Role)}, got {roles!r}")
