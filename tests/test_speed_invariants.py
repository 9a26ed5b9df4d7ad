"""The speed-ups change nothing: rule prefilters and per-claim caches give the same findings.

Performance itself is measured with the benchmark, not here (no timed tests).
"""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import attrs
import pytest

from x12dental import engine
from x12dental.engine import RuleRunner, Settings
from x12dental.findings import Finding
from x12dental.mapper import ModelBuilder
from x12dental.model import Claim
from x12dental.packs import settings_from_packs
from x12dental.synthetic import GenOptions, applicable_kinds, generate, mutate
from x12dental.tokenizer import Tokenizer

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

PACK = """
[[prior_auth]]
codes = ["D6010-D6199", "D2740"]
[[attachment]]
codes = ["D4341", "D2*"]
report_types = ["P6"]
[[non_covered]]
codes = ["D9911"]
[[frequency]]
codes = ["D1110", "D0120"]
max = 1
per = "patient"
period = "benefit-year"
[[teeth_per_period]]
codes = ["D2391-D2394"]
max_teeth = 1
"""


def _claims(data: bytes) -> list[Claim]:
    claims: list[Claim] = []
    builder = ModelBuilder(claims.append)
    for tok in Tokenizer(io.BytesIO(data), lambda f: None):
        builder.feed(tok)
    builder.finish()
    return claims


def _unfiltered(settings: Settings, today: dt.date) -> RuleRunner:
    """Every line rule on every line, as before prefilters: the same rules, none with a
    prefilter (a registry of copies, as the runner may be compiled: no subclass)."""
    registry = engine.Registry()
    for rule in engine.default_registry():
        registry.add(attrs.evolve(rule, prefilter=None))
    return RuleRunner(settings, registry=registry, today=today)


def _findings(runner: RuleRunner, claims: list[Claim]) -> list[Finding]:
    out: list[Finding] = []
    for claim in claims:
        out.extend(runner.check_claim(claim))
    out.extend(runner.finish())
    return out


def _inputs() -> list[bytes]:
    rng = random.Random(20261123)
    datas = [p.read_bytes() for p in sorted(SAMPLES.rglob("*.837"))]
    for seed in range(12):
        text = generate(seed, GenOptions(claims=15)).text
        datas.append(text.encode())
        for kind in applicable_kinds(text):
            datas.append(mutate(text, rng, kind).text.encode())
    return datas


@pytest.mark.parametrize("with_pack", [False, True])
def test_prefilters_do_not_change_findings(tmp_path: Path, with_pack: bool) -> None:
    settings = Settings()
    if with_pack:
        path = tmp_path / "pack.toml"
        path.write_text(PACK)
        settings = settings_from_packs([str(path)])
    today = dt.date(2026, 11, 23)
    compared = 0
    for data in _inputs():
        try:
            claims = _claims(data)
        except Exception:  # unreadable samples: nothing for the rules
            continue
        fast = _findings(RuleRunner(settings, today=today), claims)
        engine._LINE_DATES.clear()
        slow = _findings(_unfiltered(settings, today), claims)
        assert fast == slow
        compared += 1
    assert compared > 50


def test_procedure_prefilters_reject_only_silent_codes() -> None:
    """Lines of every listed code, in shapes that break every procedure rule: a rule the
    prefilter skips for a code finds nothing on those lines when run anyway."""
    from x12dental.checks.procedure import builtin_table

    from .builders import Claim as BClaim
    from .builders import Line, build

    shapes = [
        dict(teeth=(), units="3", area="", prosthesis=""),
        dict(teeth=(("8", "M:O:D:B:L"), ("A", "")), units="2", area="01", prosthesis=""),
        dict(teeth=(("30", "O"), ("T", "M:M")), units="", area="10", prosthesis="I"),
        dict(teeth=(("3", ""),), units="1", area="02", prosthesis=""),
    ]
    codes = [*sorted(builtin_table().by_code), "D0000", "D9998"]
    lines = [Line(code, **shape) for code in codes for shape in shapes]  # type: ignore[arg-type]
    claims = [
        c
        for i in range(0, len(lines), 40)
        for c in _claims(build(BClaim(lines=tuple(lines[i : i + 40]), claim_id=f"C{i}")))
    ]
    runner = RuleRunner(today=dt.date(2026, 11, 23))
    skipped = 0
    for claim in claims:
        for line in claim.lines:
            for rule in runner.registry.line_rules_for(line.procedure):
                if rule.prefilter is None or rule.prefilter(line.procedure, runner.settings):
                    continue
                skipped += 1
                assert list(rule.check(line, claim, runner.ctx)) == [], (rule.id, line)
    assert skipped > 1000
