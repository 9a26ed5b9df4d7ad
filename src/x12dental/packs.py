"""Rule packs (SNIP 7): TOML files that re-grade, silence and add payer requirements.

A pack is what a clearinghouse keeps per trading partner: "this payer rejects
D6011 without a prior authorization", "implants are not covered", "D9911 at
most once per tooth for life". The format is documented in README.md; every
mistake in a pack is reported with the file and the key.

    [pack]
    name = "example-strict"
    payers = ["AD101"]               # optional: requirements apply to these 2010BB payer ids

    [severity]                       # any rule id, structural ones too: error|warning|info|off
    "implant.d6011-no-prior-auth" = "error"

    [[prior_auth]]                   # REF*G1 (claim or line) required
    codes = ["D6010-D6199"]

    [[attachment]]                   # PWK with one of these report types required
    codes = ["D4341", "D4342"]
    report_types = ["P6"]

    [[non_covered]]
    codes = ["D9910", "D9911"]

    [[frequency]]                    # at most `max` per tooth (or patient) per period
    codes = ["D9911"]
    per = "tooth"                    # tooth | patient
    max = 1
    period = "lifetime"              # lifetime | benefit-year | a number of days, e.g. "365d"

    [[teeth_per_period]]             # at most `max_teeth` different teeth per period
    codes = ["D9911"]
    max_teeth = 8
    period = "benefit-year"

    [versions]
    accepted = ["005010X224A2"]      # other GS08 values become errors

    [limits]
    max_lines_per_claim = 15

    [acknowledgments]
    snip_3_7_in_999 = true           # report SNIP 3-7 errors in the 999 too

    [history]                        # with a claim-history store (check --history DB)
    duplicate_window_days = 30       # an identical claim sent this many days back is a duplicate;
                                     # -1 compares claims within the file only
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from x12dental.engine import Settings
from x12dental.findings import Severity
from x12dental.resources import data_dir
from x12dental.ruledata import RuleDataError, code_specs, load_toml, require

PACK_GROUP = "x12dental.packs"
_SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
_TABLES = {
    "pack",
    "severity",
    "prior_auth",
    "attachment",
    "non_covered",
    "frequency",
    "teeth_per_period",
    "versions",
    "limits",
    "acknowledgments",
    "history",
}


@attrs.frozen
class Requirement:
    """One payer requirement row, with the pack it came from (for messages)."""

    pack: str
    codes: tuple[str, ...]
    payers: tuple[str, ...]
    values: dict[str, Any] = attrs.field(factory=dict, hash=False)


def _period(value: Any, path: Path, at: str) -> str:
    if value in ("lifetime", "benefit-year") or (
        isinstance(value, str) and value.endswith("d") and value[:-1].isdigit()
    ):
        return str(value)
    raise RuleDataError(
        path, at, f"{value!r}: use lifetime, benefit-year or a number of days like 365d"
    )


def _rows(doc: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    rows = doc.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RuleDataError(path, key, f"must be an array of tables ([[{key}]])")
    return rows


def known_pack_names() -> dict[str, Path]:
    """Installed packs: `rules/payers/*.toml` by file stem, plus the `x12dental.packs` entry points."""
    from x12dental.plugins import entry_points_of  # only a pack given by name needs these

    found = {p.stem: p for p in sorted((data_dir("rules") / "payers").glob("*.toml"))}
    for ep in entry_points_of(PACK_GROUP):
        try:
            found[ep.name] = Path(str(ep.load()))
        except Exception:
            continue
    return found


def resolve(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    packs = known_pack_names()
    if name_or_path in packs:
        return packs[name_or_path]
    raise RuleDataError(
        name_or_path,
        "",
        "no such rule pack: give a .toml file or one of " + ", ".join(sorted(packs) or ["(none)"]),
    )


def load_pack(name_or_path: str, known_rules: set[str] | None = None) -> dict[str, Any]:
    """Parse and check one pack; returns its normalised content."""
    path = resolve(name_or_path)
    doc = load_toml(path)
    for key in doc:
        if key not in _TABLES:
            raise RuleDataError(
                path, key, f"unknown table; a pack has {', '.join(sorted(_TABLES))}"
            )
    meta = doc.get("pack", {})
    if not isinstance(meta, dict):
        raise RuleDataError(path, "pack", "must be a table")
    for key in meta:
        if key not in ("name", "description", "payers"):
            raise RuleDataError(path, f"pack.{key}", "unknown key; use name, description, payers")
    name = str(meta.get("name", path.stem))
    payers = meta.get("payers", [])
    if not isinstance(payers, list) or not all(isinstance(p, str) for p in payers):
        raise RuleDataError(path, "pack.payers", "must be a list of payer ids (2010BB NM109)")
    severities: dict[str, Severity | None] = {}
    sev = doc.get("severity", {})
    if not isinstance(sev, dict):
        raise RuleDataError(path, "severity", "must be a table of rule id = severity")
    for rule_id, value in sev.items():
        if value == "off":
            severities[rule_id] = None
        elif value in _SEVERITIES:
            severities[rule_id] = _SEVERITIES[value]
        else:
            raise RuleDataError(
                path, f"severity.{rule_id}", f"{value!r}: use error, warning, info or off"
            )
        if known_rules is not None and rule_id not in known_rules:
            raise RuleDataError(
                path, f"severity.{rule_id}", "no rule has this id (see `x12dental rules`)"
            )
    out: dict[str, Any] = {"name": name, "severities": severities}
    for key in ("prior_auth", "attachment", "non_covered", "frequency", "teeth_per_period"):
        reqs = []
        for i, row in enumerate(_rows(doc, key, path)):
            at = f"{key}[{i}]"
            codes = code_specs(row.get("codes"), path, f"{at}.codes")
            values: dict[str, Any] = {}
            if key == "attachment":
                types = require(row, "report_types", list, path, at)
                values["report_types"] = tuple(str(t) for t in types)
            if key == "frequency":
                values["max"] = require(row, "max", int, path, at)
                per = row.get("per", "tooth")
                if per not in ("tooth", "patient"):
                    raise RuleDataError(path, f"{at}.per", f"{per!r}: use tooth or patient")
                values["per"] = per
                values["period"] = _period(row.get("period", "lifetime"), path, f"{at}.period")
            if key == "teeth_per_period":
                values["max_teeth"] = require(row, "max_teeth", int, path, at)
                values["period"] = _period(row.get("period", "benefit-year"), path, f"{at}.period")
            for extra in row:
                if extra not in ("codes", *values):
                    raise RuleDataError(path, f"{at}.{extra}", "unknown key")
            reqs.append(Requirement(name, codes, tuple(payers), values))
        out[key] = reqs
    versions = doc.get("versions", {})
    if versions:
        accepted = require(versions, "accepted", list, path, "versions")
        out["accepted_versions"] = tuple(str(v) for v in accepted)
    limits = doc.get("limits", {})
    if limits:
        out["max_lines_per_claim"] = require(limits, "max_lines_per_claim", int, path, "limits")
    acks = doc.get("acknowledgments", {})
    if acks:
        out["snip_3_7_in_999"] = bool(
            require(acks, "snip_3_7_in_999", bool, path, "acknowledgments")
        )
    hist = doc.get("history", {})
    if not isinstance(hist, dict):
        raise RuleDataError(path, "history", "must be a table")
    for key in hist:
        if key != "duplicate_window_days":
            raise RuleDataError(path, f"history.{key}", "unknown key; use duplicate_window_days")
    if hist:
        out["duplicate_window_days"] = require(hist, "duplicate_window_days", int, path, "history")
    return out


def settings_from_packs(
    names: list[str] | tuple[str, ...], known_rules: set[str] | None = None
) -> Settings:
    """Merge packs in order: later severities win, requirements add up."""
    severities: dict[str, Severity | None] = {}
    params: dict[str, Any] = {}
    loaded: list[str] = []
    for name in names:
        pack = load_pack(name, known_rules)
        loaded.append(pack["name"])
        severities.update(pack["severities"])
        for key in ("prior_auth", "attachment", "non_covered", "frequency", "teeth_per_period"):
            params.setdefault(key, []).extend(pack[key])
        for key in (
            "accepted_versions",
            "max_lines_per_claim",
            "snip_3_7_in_999",
            "duplicate_window_days",
        ):
            if key in pack:
                params[key] = pack[key]
    return Settings(severities=severities, params=params, packs=tuple(loaded))
