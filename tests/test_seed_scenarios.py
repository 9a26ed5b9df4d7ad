"""The seed billing guides as a dental biller would test them: one batch, every finding exact.

Each claim below is one situation from the D6011 and D9911 guides. The assertions name the
complete set of findings per claim, so a rule that fires twice, or fires on a clean claim,
fails here even when its own family's tests pass.
"""

from __future__ import annotations

from collections import defaultdict

from x12dental.findings import Severity

from .builders import Claim, Line, run

PLACED = "D6010 placed #8 on 03/14/2026, submerged; uncovered after osseointegration"
D9911_NOTE = "Seal and Protect HEMA/UDMA resin on root exposed by recession, light cured"

CLEAN = {
    "IMPL-OK": Claim(
        claim_id="IMPL-OK",
        date="20260910",
        lines=(Line("D6011", teeth=(("8", ""),)),),
        notes=(PLACED,),
        refs=(("G1", "PA5551"),),
        attachments=(("RB", "EL"),),
    ),
    "DES-OK": Claim(
        claim_id="DES-OK",
        date="20260915",
        member_id="M2",
        patient=("ROE", "ANN"),
        lines=(Line("D9911", units="3", teeth=(("22", "F"), ("23", "F"), ("24", "F"))),),
        notes=(D9911_NOTE,),
    ),
    "PLACE-OK": Claim(
        claim_id="PLACE-OK",
        date="20260314",
        member_id="M3",
        patient=("POE", "AL"),
        lines=(Line("D6010", teeth=(("9", ""),)),),
        refs=(("G1", "PA5552"),),
        attachments=(("RB", "EL"),),
    ),
}

PROBLEMS = {
    "IMPL-NOTOOTH": (
        Claim(
            claim_id="IMPL-NOTOOTH",
            date="20260910",
            member_id="M4",
            patient=("LEE", "BO"),
            lines=(Line("D6011"),),
            notes=("D6010 placed on 03/14/2026",),
            refs=(("G1", "PA1"),),
            attachments=(("RB", "EL"),),
        ),
        {
            ("implant.d6011-no-tooth", Severity.ERROR, 1),
            # the narrative names the date but no site either: a second, separate gap
            ("implant.d6011-no-placement-reference", Severity.WARNING, 1),
        },
    ),
    "IMPL-SAMEDAY": (
        Claim(
            claim_id="IMPL-SAMEDAY",
            date="20260910",
            member_id="M5",
            patient=("KIM", "JO"),
            lines=(Line("D6010", teeth=(("19", ""),)), Line("D6011", teeth=(("19", ""),))),
            notes=("D6010 placed #19 on 09/10/2026",),
            refs=(("G1", "PA2"),),
            attachments=(("RB", "EL"),),
        ),
        {
            ("implant.placement-and-uncovering-same-day", Severity.ERROR, 2),
            ("implant.d6011-no-placement-reference", Severity.WARNING, 2),
        },
    ),
    "DES-UNITS": (
        Claim(
            claim_id="DES-UNITS",
            date="20260915",
            member_id="M6",
            patient=("FOX", "EV"),
            lines=(Line("D9911", units="1", teeth=(("6", "F"), ("7", "F"))),),
            notes=(D9911_NOTE,),
        ),
        {("desensitizing.d9911-units-teeth-mismatch", Severity.ERROR, 1)},
    ),
    "DES-SRP": (
        Claim(
            claim_id="DES-SRP",
            date="20260916",
            member_id="M7",
            patient=("ORR", "IDA"),
            lines=(Line("D4342", area="20"), Line("D9911", teeth=(("12", "B"),))),
            notes=(D9911_NOTE,),
        ),
        {("desensitizing.d9911-bundled-same-day", Severity.WARNING, 2)},
    ),
    "DES-VARNISH": (
        Claim(
            claim_id="DES-VARNISH",
            date="20260917",
            member_id="M8",
            patient=("ASH", "TY"),
            lines=(Line("D9911", teeth=(("27", "F"),)),),
            notes=("fluoride varnish applied to recession area",),
        ),
        {("desensitizing.d9911-non-resin-material", Severity.WARNING, 1)},
    ),
    "D9910-TEETH": (
        Claim(
            claim_id="D9910-TEETH",
            date="20260918",
            member_id="M9",
            patient=("IVY", "MO"),
            lines=(Line("D9910", units="2", teeth=(("3", ""), ("4", ""))),),
        ),
        {("desensitizing.d9910-per-tooth", Severity.ERROR, 1)},
    ),
}


def test_seed_batch_findings_are_exact() -> None:
    claims = [*CLEAN.values(), *(c for c, _ in PROBLEMS.values())]
    result = run(*claims)
    assert [f for f in result.findings if f.snip <= 2] == []
    by_claim: dict[str | None, set[tuple[str, Severity, int | None]]] = defaultdict(set)
    for f in result.findings:
        by_claim[f.claim_id].add((f.rule, f.severity, f.line))
    for claim_id in CLEAN:
        assert by_claim.get(claim_id, set()) == set(), claim_id
    for claim_id, (_claim, expected) in PROBLEMS.items():
        assert by_claim.get(claim_id, set()) == expected, claim_id
    assert set(by_claim) <= set(CLEAN) | set(PROBLEMS)
    assert result.status == "accepted_with_errors"
