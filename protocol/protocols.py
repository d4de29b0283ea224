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

from .documents import read_bytes
from .errors import Problem, Problems, ProtocolError
from .limits import (
    MAX_MAP_ENTRIES,
    MAX_MAP_MODALITIES,
    MAX_NAME_CHARS,
    MAX_SMALL_FILE_BYTES,
    clip,
    shown,
)
from .model import DiagnosisEntry, DiagnosisMap, Kind, Protocol, Role, RuleSettings, Severity

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
        for rule_id, settings in table.items():
            path = f"rules.{rule_id[:MAX_NAME_CHARS]}"
            if not _RULE_ID.match(rule_id):
                problems.add(path, "expected a rule id of capital letters, digits and dashes "
                                   f"such as KAP-INT-001 (at most {MAX_NAME_CHARS} characters)")
                continue
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
                        problems.add(kpath, f'expected "error" or "warning", got {shown(value)}')
                elif key == "enabled":
                    if isinstance(value, bool):
                        current["enabled"] = value
                        where["enabled"] = layer.label
                    else:
                        problems.add(kpath, f"expected true or false, got {shown(value)}")
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
                        problems.add(kpath, f"expected {_type_name(base)}, got {shown(value)}")
                    elif isinstance(base, dict):
                        merged = dict(base)
                        for sub, subvalue in value.items():
                            if sub in base and not _same_type(base[sub], subvalue):
                                problems.add(f"{kpath}.{sub}",
                                             f"expected {_type_name(base[sub])}, got {shown(subvalue)}")
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
        if len(table) > MAX_MAP_ENTRIES:
            problems.add("diagnoses", f"at most {MAX_MAP_ENTRIES} prefixes")
            table = {}
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
                        not isinstance(r, str) or r not in {x.value for x in Role} for r in roles):
                    problems.add(path, f"expected a list of roles from "
                                       f"{', '.join(r.value for r in Role)}, got {shown(roles)}")
