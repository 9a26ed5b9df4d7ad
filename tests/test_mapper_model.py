"""The mapper's and the model's shortcuts give exactly what the plain code gives.

`fast_constructor` makes frozen instances without attrs' `__init__`; the mapper shares
frozen parties between the claims they belong to, reads birth dates past the date memo and
amounts through a memo; the package and the command line import less, later. Each is held
here to the plain behaviour (performance itself is measured with the benchmark).
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import pickle
import subprocess
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from x12dental import mapper
from x12dental import model as m
from x12dental.mapper import ModelBuilder
from x12dental.tokenizer import Tokenizer
from x12dental.valueclass import fast_constructor

ROOT = Path(__file__).resolve().parent.parent
MODEL_CLASSES = [
    c
    for c in vars(m).values()
    if isinstance(c, type) and attrs.has(c) and c.__module__ == m.__name__
]

# -- fast_constructor -----------------------------------------------------------------------

_VALUES = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.integers(),
    st.tuples(st.text(max_size=2)),
    st.builds(m.Where, st.sampled_from(["CLM", "NM1"]), st.integers(1, 9), st.none()),
)


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fast_constructor_makes_what_the_class_makes(cls: type[Any], data: st.DataObject) -> None:
    fields = attrs.fields(cls)
    values = [data.draw(_VALUES, label=f.name) for f in fields]
    make = fast_constructor(cls)
    plain = cls(*values)
    for fast in (make(*values), make(**{f.alias: v for f, v in zip(fields, values, strict=True)})):
        assert type(fast) is cls
        assert fast == plain
        assert not fast != plain  # noqa: SIM202 (__ne__ too)
        assert hash(fast) == hash(plain)
        assert repr(fast) == repr(plain)
        assert attrs.astuple(fast, recurse=False) == tuple(values)
        assert pickle.loads(pickle.dumps(fast)) == plain
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            fast.__setattr__(fields[0].name, "changed")
    required = [v for f, v in zip(fields, values, strict=True) if f.default is attrs.NOTHING]
    assert make(*required) == cls(*required)  # the same defaults


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_shared_value_methods_behave_as_attrs_generated_ones(
    cls: type[Any], data: st.DataObject
) -> None:
    names = [f.name for f in attrs.fields(cls)]
    twin = attrs.make_class(cls.__name__, names, frozen=True, slots=True)  # attrs' own methods
    pool = data.draw(st.lists(_VALUES, min_size=1, max_size=3))
    rows = [[data.draw(st.sampled_from(pool)) for _ in names] for _ in range(3)]
    for a in rows:
        assert repr(cls(*a)) == repr(twin(*a))
        for b in rows:
            assert (cls(*a) == cls(*b)) is (twin(*a) == twin(*b))
            assert (cls(*a) != cls(*b)) is (twin(*a) != twin(*b))
            if a == b:
                assert hash(cls(*a)) == hash(cls(*[*b]))
        assert cls(*a) != twin(*a)  # another class is never equal
        assert {cls(*a): 1}[cls(*a)] == 1


def test_fast_constructor_has_the_class_signature() -> None:
    for cls in MODEL_CLASSES:
        fast = inspect.signature(fast_constructor(cls))
        plain = inspect.signature(cls)
        assert [(p.name, p.default) for p in fast.parameters.values()] == [
            (p.name, p.default) for p in plain.parameters.values()
        ], cls


def test_fast_constructor_refuses_classes_it_would_build_wrongly() -> None:
    @attrs.frozen(slots=True, weakref_slot=False)
    class Validated:
        a: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen(slots=True, weakref_slot=False)
    class Converted:
        a: int = attrs.field(converter=int)

    @attrs.frozen(slots=True, weakref_slot=False)
    class Factory:
        a: list[int] = attrs.field(factory=list)

    @attrs.frozen(slots=True, weakref_slot=False)
    class Hooked:
        a: int

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.frozen(slots=True)
    class WeakReferable:
        a: int

    @attrs.frozen(slots=False)
    class Dicted:
        a: int

    @attrs.frozen(slots=True, weakref_slot=False)
    class Sub(Validated):
        b: int = 0

    for cls in (Validated, Converted, Factory, Hooked, WeakReferable, Dicted, Sub):
        with pytest.raises(TypeError):
            fast_constructor(cls)


# -- the mapper -----------------------------------------------------------------------------

_HEAD = [
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261101*1200*^*00501"
    "*000000001*0*T*:",
    "GS*HC*SENDER*RECEIVER*20261101*1200*1*X*005010X224A2",
    "ST*837*0001*005010X224A2",
    "BHT*0019*00*B1*20261101*1200*CH",
    "NM1*41*2*CLEARINGHOUSE*****46*S1",
    "NM1*40*2*PAYER*****46*R1",
    "HL*1**20*1",
    "PRV*BI*PXC*1223G0001X",
    "NM1*85*2*PRACTICE*****XX*1234567893",
    "N3*1 MAIN ST",
    "N4*MADISON*WI*537309285",
    "REF*EI*623635538",
]


def _subscriber(hl: str, name: str, children: bool) -> list[str]:
    return [
        f"HL*{hl}*1*22*{int(children)}",
        "SBR*P*18*G1******12",
        f"NM1*IL*1*{name}*ANN****MI*M{hl}",
        "N3*2 OAK ST",
        "N4*MADISON*WI*53703",
        "DMG*D8*19700101*F",
        "NM1*PR*2*PAYER*****PI*P1",
    ]


def _patient(hl: str, parent: str, name: str) -> list[str]:
    return [f"HL*{hl}*{parent}*23*0", "PAT*19", f"NM1*QC*1*{name}*KID", "DMG*D8*20150301*M"]


def _claim(claim_id: str) -> list[str]:
    return [
        f"CLM*{claim_id}*100***11:B:1*Y*A*Y*Y",
        "DTP*472*D8*20261001",
        "LX*1",
        "SV3*AD:D1110*100***1",
    ]


def _map(segments: list[str]) -> list[m.Claim]:
    text = "~\n".join([*segments, "SE*99*0001", "GE*1*1", "IEA*1*000000001"]) + "~\n"
    claims: list[m.Claim] = []
    builder = ModelBuilder(claims.append)
    for tok in Tokenizer(io.BytesIO(text.encode()), lambda f: None):
        builder.feed(tok)
    builder.finish()
    return claims


def test_claims_of_one_provider_and_subscriber_share_their_parties() -> None:
    c1, c2, c3, c4 = _map(
        [
            *_HEAD,
            *_subscriber("2", "SMITH", True),
            *_patient("3", "2", "AMY"),
            *_claim("C1"),
            *_patient("4", "2", "BEN"),
            *_claim("C2"),
            *_subscriber("5", "JONES", False),
            *_claim("C3"),
            "HL*6*1*22*0",
            "PRV*BI*PXC*1223X0008X",  # out of place, but read: the provider's taxonomy changes
            "SBR*P*18*G2******12",
            "NM1*IL*1*BROWN*CAL****MI*M6",
            "NM1*PR*2*PAYER*****PI*P1",
            *_claim("C4"),
        ]
    )
    # One subscriber, two patients: the subscriber, payer and provider are one object each.
    assert c1.patient is not None and c2.patient is not None
    assert (c1.patient.party and c1.patient.party.last_or_org) == "AMY"
    assert (c2.patient.party and c2.patient.party.last_or_org) == "BEN"
    assert c1.subscriber is c2.subscriber and c1.payer is c2.payer
    assert c1.billing_provider is c2.billing_provider is c3.billing_provider
    # A new subscriber is a new value; the unchanged provider is still shared.
    assert c3.subscriber is not None and c3.subscriber != c1.subscriber
    assert (c3.subscriber.party and c3.subscriber.party.last_or_org) == "JONES"
    assert c3.patient is None
    # Something the provider is made of changed: a new value, and the party still shared.
    bp1, bp4 = c1.billing_provider, c4.billing_provider
    assert bp1 is not None and bp4 is not None
    assert (bp1.taxonomy, bp4.taxonomy) == ("1223G0001X", "1223X0008X")
    assert bp4.party is bp1.party
    assert bp1.party is not None and bp1.party.address is not None
    assert bp1.party.address.zip == "537309285"
    assert [r.value for r in bp1.party.references] == ["623635538"]
    assert c4.subscriber is not None and c4.subscriber.group_number == "G2"


def test_a_party_changed_after_it_was_built_is_built_again() -> None:
    """No segment order in a file does this today; the memo must not rely on that."""
    builder = ModelBuilder(lambda c: None)
    party = mapper._PartyBuilder(
        "85", "2", "PRACTICE", "", "XX", "1234567893", m.Where("NM1", 1, 1)
    )
    first = party.build()
    assert party.build() is first
    builder._party = party
    pad = [""] * 10
    changes: list[tuple[Any, list[str]]] = [
        (builder._h_n3, ["N3", "1 MAIN ST", *pad]),
        (builder._h_n4, ["N4", "MADISON", "WI", "53703", "", *pad]),
        (builder._h_prv, ["PRV", "PE", "PXC", "1223G0001X", *pad]),
        (builder._h_ref, ["REF", "EI", "123", *pad]),
    ]
    for handler, el in changes:
        before = party.build()
        handler(el, m.Where(el[0], 2, 2), ":")
        after = party.build()
        assert after is not before
        party.built = None  # what a fresh build gives
        assert after == party.build()
        party.built = after
    assert after.address is not None and after.address.line1 == "1 MAIN ST"
    assert after.taxonomy == "1223G0001X" and [r.value for r in after.references] == ["123"]


@pytest.mark.parametrize("seg", sorted(mapper._HANDLERS))
def test_every_segment_cut_to_its_id_is_read_without_error(seg: str) -> None:
    if seg in ("ISA", "IEA", "GS", "GE", "ST", "SE"):
        pytest.skip("envelope segments end or start what the file needs")
    claims = _map([*_HEAD, *_subscriber("2", "SMITH", False), *_claim("C1"), seg, "LX*2", seg])
    assert [c.claim_id for c in claims] == ["C1"] or seg in ("CLM", "HL")


_RAW_DATES = st.one_of(
    st.text(alphabet="0123456789-\u00b2", max_size=18),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(lambda d: d.strftime("%Y%m%d")),
)


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from(["D8", "RD8", "DT", ""]), raw=_RAW_DATES)
def test_birth_dates_read_past_the_memo_as_through_it(fmt: str, raw: str) -> None:
    where = m.Where("DMG", 5, 9)
    memo = dict(mapper._DATES)
    direct = mapper._birth_date(fmt, raw, where)
    if fmt != "RD8" or "-" not in raw:
        assert memo == mapper._DATES  # a birth date does not go into the memo
    assert direct == mapper.make_date("DOB", fmt, raw, where)


def _plain_decimal(raw: str) -> Decimal | None:
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@settings(max_examples=300, deadline=None)
@given(
    raw=st.one_of(st.text(alphabet="0123456789.-+eEnaNIif ", max_size=8), st.decimals().map(str))
)
def test_amounts_read_through_the_memo_as_without_it(raw: str) -> None:
    expected = _plain_decimal(raw)
    for _ in range(2):  # a miss, then a hit
        got = mapper.parse_decimal(raw)
        assert got == expected and (got is None) == (expected is None)
        assert got is None or str(got) == str(expected)


# -- start-up -------------------------------------------------------------------------------


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_package_imports_the_checker_on_first_use() -> None:
    out = _python(
        "import sys, x12dental\n"
        "print('x12dental.api' in sys.modules)\n"
        "from x12dental import Report, validate\n"
        "print('x12dental.api' in sys.modules, validate.__module__, Report.__module__)\n"
        "print(sorted(set(x12dental.__all__) - set(dir(x12dental))))\n"
        "try:\n    x12dental.nothing\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    assert out.splitlines() == [
        "False",
        "True x12dental.api x12dental.report",
        "[]",
        "module 'x12dental' has no attribute 'nothing'",
    ]


def test_a_json_check_loads_no_acknowledgment_code_and_leaves_the_collector_on(
    tmp_path: Path,
) -> None:
    report = tmp_path / "r.json"
    out = _python(
        "import gc, sys\n"
        "from x12dental.cli import main\n"
        f"status = main(['check', '--workers', '1', '--format', 'json', '-o', {str(report)!r},"
        " '--quiet', 'samples/clean-batch.837'])\n"
        "print(status, gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold())\n"
        "print(sorted(m for m in sys.modules if m.startswith('x12dental.ack')))\n"
    )
    # the collector runs, every 200,000 allocations rather than 700 (cli._RUN_THRESHOLDS)
    assert out.splitlines() == ["0 True True (200000, 20, 10)", "[]"]
    assert json.loads(report.read_text())["files"][0]["status"] == "accepted"


def test_the_command_line_loading_window_restores_the_collector() -> None:
    out = _python(
        "import gc\n"
        "from x12dental.cli import _loading\n"
        "for state in (True, False):\n"
        "    (gc.enable if state else gc.disable)()\n"
        "    frozen = gc.get_freeze_count()\n"
        "    with _loading():\n"
        "        inside = gc.isenabled()\n"
        "        kept = [[]]\n"
        "    print(inside, gc.isenabled() is state, gc.get_freeze_count() > frozen)\n"
    )
    assert out.splitlines() == ["False True True"] * 2
