"""Every structural (SNIP 1-2) rule id, with a file that triggers it and the clean file that does not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from x12dental.findings import Severity
from x12dental.pipeline import check_bytes

from .builders import Claim, Line, build

CLEAN = build(
    Claim(
        lines=(Line("D2391", teeth=(("3", "O"),), date="20260910"), Line("D0120")),
        notes=("CHECKED",),
    )
).decode()


def sub(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def apply(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return apply


def recount(text: str) -> str:
    lines = text.splitlines()
    st = next(i for i, s in enumerate(lines) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    lines[se] = f"SE*{se - st + 1}*{lines[se].split('*')[2]}"
    return "\n".join(lines) + "\n"


def insert_after(prefix: str, segment: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        lines = text.splitlines()
        at = next(i for i, s in enumerate(lines) if s.startswith(prefix))
        lines.insert(at + 1, segment)
        return recount("\n".join(lines) + "\n")

    return apply


def two_interchanges(text: str) -> str:
    return text + text


def duplicate_group(text: str) -> str:
    start, end = text.index("GS*"), text.index("IEA*")
    return text[:end] + text[start:end] + text[end:].replace("IEA*1*", "IEA*2*")


def duplicate_transaction(text: str) -> str:
    start, end = text.index("ST*"), text.index("GE*")
    return text[:end] + text[start:end] + text[end:].replace("GE*1*", "GE*2*")


def many_lines(text: str) -> str:
    return build(Claim(lines=tuple(Line("D0210") for _ in range(51)))).decode()


CASES: dict[str, Callable[[str], str]] = {
    "x12.element.missing": sub("*Y*A*Y*Y", "*Y**Y*Y"),
    "x12.element.too-long": sub("CLM*CLM001*", "CLM*" + "C" * 45 + "*"),
    "x12.element.too-short": sub("GS*HC*SUBMITTER*", "GS*HC*S*"),
    "x12.element.invalid-character": sub("SV3*AD:D0120*100", "SV3*AD:D0120*1O0"),
    "x12.element.invalid-date": sub("DTP*472*D8*20260910~\nLX", "DTP*472*D8*20260231~\nLX"),
    "x12.element.invalid-time": sub("*20261101*1200*CH~", "*20261101*2561*CH~"),
    "x12.element.invalid-code": sub("*11:B:1*", "*11:X:1*"),
    "x12.element.not-used": sub("*Y*A*Y*Y", "*Y*A*Y*Y*******X"),
    "x12.segment.syntax": sub("XX*1999999992~", "XX~"),
    "x12.segment.missing": sub("N3*100 MAIN ST~\n", "", 1),
    "x12.segment.unexpected": sub("DTP*472*D8*20260910~\nLX", "DTP*999*D8*20260910~\nLX"),
    "x12.segment.unrecognized": insert_after("BHT", "ZZZZ*1~"),
    "x12.segment.wrong-delimiter": sub("NTE*ADD*CHECKED", "NTE|ADD|CHECKED"),
    "x12.segment.too-many": insert_after("DTP*472", "DTP*472*D8*20260910~"),
    "x12.segment.trailing-separators": sub("LX*1~", "LX*1*~"),
    "x12.loop.too-many": many_lines,
    "x12.hl.sequence": sub("HL*2*1*22*0~", "HL*5*1*22*0~"),
    "x12.hl.parent": sub("HL*2*1*22*0~", "HL*2*9*22*0~"),
    "x12.lx.sequence": sub("LX*2~", "LX*3~"),
    "x12.transaction.segment-count": sub("\nSE*", "\nSE*9"),
    "x12.transaction.control-mismatch": sub("*0001~\nGE", "*0002~\nGE"),
    "x12.transaction.trailer-missing": lambda t: t[: t.index("\nSE*") + 1],
    "x12.group.control-mismatch": sub("GE*1*101~", "GE*1*102~"),
    "x12.group.transaction-count": sub("GE*1*101~", "GE*2*101~"),
    "x12.group.trailer-missing": sub("GE*1*101~\nIEA*1*000000101~\n", ""),
    "x12.envelope.invalid": sub("GE*1*101~\n", ""),
    "x12.envelope.control-mismatch": sub("IEA*1*000000101~", "IEA*1*000000102~"),
    "x12.envelope.group-count": sub("IEA*1*", "IEA*2*"),
    "x12.envelope.trailer-missing": sub("IEA*1*000000101~\n", ""),
    "x12.envelope.duplicate-control": two_interchanges,
    "x12.group.duplicate-control": duplicate_group,
    "x12.transaction.duplicate-control": duplicate_transaction,
    "x12.envelope.version-mismatch": sub("ST*837*0001*005010X224A2", "ST*837*0001*005010X224A1"),
    "x12.envelope.version-not-preferred": sub("X*005010X224A2~", "X*005010X224A1~"),
    "x12.envelope.not-837d": sub("X*005010X224A2~", "X*005010X222A1~"),
    "x12.envelope.version-unsupported": sub("*00501*", "*00401*"),
    "x12.envelope.isa-length": sub("*ZZ*SUBMITTER      *", "*ZZ*SUBMITTER     *"),
    "x12.envelope.truncated": lambda t: t[: t.index("IEA") + 5],
    "x12.envelope.text-before-isa": lambda t: "Exported by PMS\n" + t,
    "x12.transaction.no-claims": lambda t: build().decode(),
}


def test_every_structural_rule_has_a_case() -> None:
    from x12dental.catalog import all_rules

    structural = {r.id for r in all_rules() if r.id.startswith("x12.") and r.rule is None}
    assert structural - set(CASES) == {"x12.input.unreadable"}  # tested in test_bad_input.py


def test_the_clean_file_has_no_finding() -> None:
    result = check_bytes(CLEAN.encode(), "clean.837")
    assert result.findings == ()


@pytest.mark.parametrize("rule", sorted(CASES))
def test_structural_rule_fires(rule: str) -> None:
    result = check_bytes(CASES[rule](CLEAN).encode(), f"{rule}.837")
    assert rule in {f.rule for f in result.findings}, [(f.rule, f.message) for f in result.findings]
    hit = next(f for f in result.findings if f.rule == rule)
    assert hit.snip in (1, 2)
    assert hit.severity in (Severity.ERROR, Severity.WARNING)
    assert hit.message
