"""Write small 837D files for rule tests: a claim in a few lines of Python.

    result = run(Claim(lines=(Line("D6011", teeth=(("8", ""),)),), notes=("D6010 #8 03/14/2026",)))
    assert rule_hits(result, "implant.d6011-no-tooth") == []

Note texts must not contain the delimiters (`*`, `:`, `^`, `~`).
Everything not given is valid (NPIs, ZIP+4, dates, CLM02 = the sum of the lines), so a rule
test sees only the problem it puts in. `run` checks the text end to end through the
pipeline, the rule engine included, with `today` fixed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from x12dental.engine import Settings
from x12dental.findings import Finding
from x12dental.packs import settings_from_packs
from x12dental.pipeline import FileResult, Options, check_bytes

TODAY = dt.date(2026, 11, 20)
BILLING_NPI = "1234567893"
RENDERING_NPI = "1999999992"

Tooth = tuple[str, str]  # (tooth number, surfaces as one string, e.g. "MOD" or "")


@attrs.frozen
class Line:
    code: str
    charge: str = "100"
    teeth: tuple[Tooth, ...] = ()
    units: str = ""
    area: str = ""
    prosthesis: str = ""
    date: str | None = None  # line DTP*472 (CCYYMMDD); None: none at line level
    refs: tuple[tuple[str, str], ...] = ()  # line REF (qualifier, value)
    dates: tuple[tuple[str, str], ...] = ()  # other line DTPs (qualifier, CCYYMMDD)
    place: str = ""  # SV303


@attrs.frozen
class Claim:
    lines: tuple[Line, ...]
    claim_id: str = "CLM001"
    date: str | None = "20260910"  # claim DTP*472; None to leave out
    notes: tuple[str, ...] = ()
    refs: tuple[tuple[str, str], ...] = ()  # claim REF (qualifier, value), e.g. ("G1", "PA123")
    attachments: tuple[tuple[str, str], ...] = ()  # PWK (report type, transmission)
    frequency: str = "1"
    place: str = "11"
    predetermination: bool = False
    total: str | None = None  # CLM02; None = sum of the lines
    dependent: bool = False  # True: the patient is a dependent (2000C loop)
    birth_date: str = "19800115"  # the patient's
    member_id: str = "M123456789"
    patient: tuple[str, str] = ("DOE", "JANE")
    extra: tuple[str, ...] = ()  # raw 2300 segments after the NTEs, e.g. "DTP*439*D8*20260901"


def _seg(*parts: str) -> str:
    out = list(parts)
    while out and out[-1] == "":
        out.pop()
    return "*".join(out) + "~"


def _claim_segments(c: Claim) -> list[str]:
    total = c.total
    if total is None:
        total = str(sum((Decimal(ln.charge) for ln in c.lines), Decimal(0)))
    segs = [
        _seg(
            "CLM",
            c.claim_id,
            total,
            "",
            "",
            f"{c.place}:B:{c.frequency}",
            "Y",
            "A",
            "Y",
            "Y",
            *([""] * 9 + ["PB"] if c.predetermination else []),
        )
    ]
    if c.date and not c.predetermination:
        segs.append(_seg("DTP", "472", "D8", c.date))
    for report_type, transmission in c.attachments:
        if transmission == "AA":
            segs.append(_seg("PWK", report_type, transmission))
        else:
            segs.append(_seg("PWK", report_type, transmission, "", "", "AC", f"ATT{report_type}1"))
    for qual, value in c.refs:
        segs.append(_seg("REF", qual, value))
    for note in c.notes:
        segs.append(_seg("NTE", "ADD", note))
    segs.extend(x if x.endswith("~") else x + "~" for x in c.extra)
    segs.append(_seg("NM1", "82", "1", "SMITH", "ANNA", "", "", "", "XX", RENDERING_NPI))
    segs.append(_seg("PRV", "PE", "PXC", "1223G0001X"))
    for n, ln in enumerate(c.lines, 1):
        segs.append(_seg("LX", str(n)))
        segs.append(
            _seg(
                "SV3",
                f"AD:{ln.code}",
                ln.charge,
                ln.place,
                ln.area,
                ln.prosthesis,
                ln.units,
            )
        )
        for tooth, surfaces in ln.teeth:
            segs.append(_seg("TOO", "JP", tooth, ":".join(surfaces)))
        if ln.date:
            segs.append(_seg("DTP", "472", "D8", ln.date))
        for qual, day in ln.dates:
            segs.append(_seg("DTP", qual, "D8", day))
        for qual, value in ln.refs:
            segs.append(_seg("REF", qual, value))
    return segs


def build(*claims: Claim, version: str = "005010X224A2", created: str = "20261101") -> bytes:
    """One interchange, one transaction; claims grouped by (member id, patient) like a PMS would."""
    body = [
        _seg("BHT", "0019", "00", "B1", created, "1200", "CH"),
        _seg("NM1", "41", "2", "TEST CLEARINGHOUSE", "", "", "", "", "46", "TST01"),
        _seg("PER", "IC", "EDI", "TE", "8005551212"),
        _seg("NM1", "40", "2", "ACME DENTAL PLAN", "", "", "", "", "46", "AD101"),
        _seg("HL", "1", "", "20", "1"),
        _seg("PRV", "BI", "PXC", "1223G0001X"),
        _seg("NM1", "85", "2", "BRIGHT SMILE DENTAL", "", "", "", "", "XX", BILLING_NPI),
        _seg("N3", "100 MAIN ST"),
        _seg("N4", "COLUMBUS", "OH", "432151234"),
        _seg("REF", "EI", "123456789"),
    ]
    hl = 1
    groups: dict[tuple[str, tuple[str, str], bool, str], list[Claim]] = {}
    for c in claims:
        groups.setdefault((c.member_id, c.patient, c.dependent, c.birth_date), []).append(c)
    for (member, patient, dependent, birth), group in groups.items():
        hl += 1
        sub_hl = hl
        body.append(_seg("HL", str(sub_hl), "1", "22", "1" if dependent else "0"))
        body.append(_seg("SBR", "P", "" if dependent else "18", "GRP1", "", "", "", "", "", "CI"))
        sub_name = ("DOE", "JOHN") if dependent else patient
        body.append(_seg("NM1", "IL", "1", *sub_name, "", "", "", "MI", member))
        body.append(_seg("N3", "1 ELM ST"))
        body.append(_seg("N4", "COLUMBUS", "OH", "43215"))
        body.append(
            _seg("DMG", "D8", "19750101" if dependent else birth, "M" if dependent else "F")
        )
        body.append(_seg("NM1", "PR", "2", "ACME DENTAL PLAN", "", "", "", "", "PI", "AD101"))
        if dependent:
            hl += 1
            body.append(_seg("HL", str(hl), str(sub_hl), "23", "0"))
            body.append(_seg("PAT", "19"))
            body.append(_seg("NM1", "QC", "1", *patient))
            body.append(_seg("N3", "1 ELM ST"))
            body.append(_seg("N4", "COLUMBUS", "OH", "43215"))
            body.append(_seg("DMG", "D8", birth, "F"))
        for c in group:
            body.extend(_claim_segments(c))
    st = [_seg("ST", "837", "0001", version), *body]
    st.append(_seg("SE", str(len(st) + 1), "0001"))
    isa = (
        "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       "
        f"*{created[2:]}*1200*^*00501*000000101*0*T*:~"
    )
    gs = _seg("GS", "HC", "SUBMITTER", "RECEIVER", created, "1200", "101", "X", version)
    return "\n".join([isa, gs, *st, "GE*1*101~", "IEA*1*000000101~", ""]).encode()


def run(
    *claims: Claim, packs: tuple[str, ...] = (), settings: Settings | None = None, **kw: str
) -> FileResult:
    """Build and check; `packs` are rule pack names or TOML paths."""
    if settings is None:
        settings = settings_from_packs(packs) if packs else Settings()
    return check_bytes(build(*claims, **kw), "test.837", Options(settings=settings, today=TODAY))


def rule_hits(result: FileResult, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def structural(result: FileResult) -> list[Finding]:
    """SNIP 1-2 findings: a rule test's file must have none, or the test is testing the builder."""
    return [f for f in result.findings if f.snip <= 2]
