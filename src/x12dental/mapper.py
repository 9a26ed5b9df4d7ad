"""Map the segment stream into the domain model, one claim at a time.

The mapper does not judge structure (that is the structural check's job); it
only needs segment ids and qualifiers to know where it is, so it keeps working
on damaged files and every claim that is in the file is handed on. A claim is
emitted as soon as the next CLM, HL or SE closes it, so memory does not grow
with the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import attrs

from x12dental import model as m
from x12dental.tokenizer import Delimiters, Token
from x12dental.valueclass import fast_constructor

# Amounts and dates repeat a lot across claims, and Decimal and date values are
# immutable: parsed once, shared (bounded, so memory stays flat however large the file).
_CACHE_LIMIT = 8192
_DECIMALS: dict[str, Decimal | None] = {}
_DATES: dict[str, dt.date | None] = {}
_ONE = Decimal(1)  # SV306 absent: one unit

# Built per claim: made through fast_constructor (see there), same values as m.X(...).
_Claim = fast_constructor(m.Claim)
_ServiceLine = fast_constructor(m.ServiceLine)
_Party = fast_constructor(m.Party)
_Address = fast_constructor(m.Address)
_DateValue = fast_constructor(m.DateValue)
_Reference = fast_constructor(m.Reference)
_ToothInfo = fast_constructor(m.ToothInfo)
_Attachment = fast_constructor(m.Attachment)
_Note = fast_constructor(m.Note)
_ToothStatus = fast_constructor(m.ToothStatus)
_BillingProvider = fast_constructor(m.BillingProvider)
_Subscriber = fast_constructor(m.Subscriber)
_Patient = fast_constructor(m.Patient)
_Payer = fast_constructor(m.Payer)
_OtherPayer = fast_constructor(m.OtherPayer)
_Adjustment = fast_constructor(m.Adjustment)
_LineAdjudication = fast_constructor(m.LineAdjudication)


def parse_decimal(raw: str) -> Decimal | None:
    """X12 R values: an optional sign, digits and an optional point; anything else is None."""
    if not raw:
        return None
    if raw in _DECIMALS:  # not try/except KeyError: amounts miss often, and raising costs
        return _DECIMALS[raw]
    value: Decimal | None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    else:
        if not value.is_finite():
            value = None
    if len(_DECIMALS) >= _CACHE_LIMIT:
        _DECIMALS.clear()
    _DECIMALS[raw] = value
    return value


def _read_date(raw: str) -> dt.date | None:
    """A D8 date (CCYYMMDD) or None."""
    if len(raw) == 8 and raw.isdigit():
        try:
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            return None
    return None


def parse_date(raw: str) -> dt.date | None:
    try:
        return _DATES[raw]
    except KeyError:
        pass
    day = _read_date(raw)
    if len(_DATES) >= _CACHE_LIMIT:
        _DATES.clear()
    _DATES[raw] = day
    return day


def make_date(qualifier: str, fmt: str, raw: str, where: m.Where) -> m.DateValue:
    if fmt == "RD8" and "-" in raw:
        first, _, last = raw.partition("-")
        return _DateValue(qualifier, fmt, raw, parse_date(first), parse_date(last), where)
    day = parse_date(raw)
    return _DateValue(qualifier, fmt, raw, day, day, where)


def _birth_date(fmt: str, raw: str, where: m.Where) -> m.DateValue:
    """A DMG date, read as make_date does but past the memo: birth dates hardly repeat
    within a file, and a miss costs more than reading the date."""
    if fmt == "RD8" and "-" in raw:
        return make_date("DOB", fmt, raw, where)
    day = _read_date(raw)
    return _DateValue("DOB", fmt, raw, day, day, where)


_ENVELOPE_IDS = frozenset(("ISA", "GS", "GE", "IEA"))
_POSITION_IDS = _ENVELOPE_IDS | {"ST"}  # segments that set the position from ST, not count on
# m.Where is a NamedTuple: tuple.__new__ makes one without the Python-level __new__ call.
_Where = m.Where
_where: Callable[[type[m.Where], tuple[str, int | None, int | None]], m.Where] = tuple.__new__
# Handlers read element i as el[i] (el[0] is the segment id, left in place rather than
# deleted); lists are padded with "" up to el[20], since X12 drops trailing empty elements
# and the highest element read is CLM20.
_PADDED = 21
_PAD: tuple[list[str], ...] = tuple([""] * (_PADDED - n) for n in range(_PADDED))


def _get(el: list[str], i: int) -> str:
    """Element i of a split segment (el[0] is the id), '' when absent."""
    return el[i] if len(el) > i else ""


_T = TypeVar("_T")


def _added(items: list[_T] | None, item: _T) -> list[_T]:
    """`items` with `item` appended, made on first use (a builder's rarely used lists)."""
    if items is None:
        return [item]
    items.append(item)
    return items


def _components(value: str, c: str) -> tuple[str, ...]:
    """The non-empty components of a composite element ('' is the usual, empty answer)."""
    return tuple(filter(None, value.split(c))) if value else ()


# The builders are mutable and private, plain classes rather than attrs: in the compiled
# build (hatch_build.py) mypyc makes them native classes with typed fields, which an attrs
# class with factory defaults cannot be.


class _PartyBuilder:
    entity: str
    entity_type: str
    last_or_org: str
    first: str
    id_qualifier: str
    id: str
    where: m.Where
    address_line: str
    city: str
    state: str
    zip: str
    country: str
    n4_where: m.Where | None
    taxonomy: str | None
    references: list[m.Reference] | None  # lists made on first use: most stay empty
    birth_date: m.DateValue | None
    gender: str
    # The Party built from what was read so far; a segment that adds to the party clears
    # it. The billing provider is the same for every claim under its HL, and subscriber
    # and payer for every claim of the subscriber: built once, shared by those claims.
    built: m.Party | None

    def __init__(
        self,
        entity: str,
        entity_type: str,
        last_or_org: str,
        first: str,
        id_qualifier: str,
        id: str,
        where: m.Where,
    ) -> None:
        self.entity = entity
        self.entity_type = entity_type
        self.last_or_org = last_or_org
        self.first = first
        self.id_qualifier = id_qualifier
        self.id = id
        self.where = where
        self.address_line = ""
        self.city = ""
        self.state = ""
        self.zip = ""
        self.country = ""
        self.n4_where = None
        self.taxonomy = None
        self.references = None
        self.birth_date = None
        self.gender = ""
        self.built = None

    def build(self) -> m.Party:
        party = self.built
        if party is None:
            address = None
            if self.n4_where is not None:
                address = _Address(
                    self.address_line, self.city, self.state, self.zip, self.country, self.n4_where
                )
            party = self.built = _Party(
                self.entity,
                self.entity_type,
                self.last_or_org,
                self.first,
                self.id_qualifier,
                self.id,
                self.where,
                address,
                self.taxonomy,
                tuple(self.references) if self.references else (),
            )
        return party


class _LineBuilder:
    number: str
    where: m.Where
    procedure_qualifier: str
    procedure: str
    modifiers: tuple[str, ...]
    charge_raw: str
    place_of_service: str
    areas: tuple[str, ...]
    prosthesis: str
    units_raw: str
    pointers: tuple[str, ...]
    service_where: m.Where | None
    dates: list[m.DateValue]
    teeth: list[m.ToothInfo] | None  # lists made on first use: most stay empty
    references: list[m.Reference] | None
    adjudications: list[m.LineAdjudication] | None
    rendering: _PartyBuilder | None

    def __init__(self, number: str, where: m.Where) -> None:
        self.number = number
        self.where = where
        self.procedure_qualifier = ""
        self.procedure = ""
        self.modifiers = ()
        self.charge_raw = ""
        self.place_of_service = ""
        self.areas = ()
        self.prosthesis = ""
        self.units_raw = ""
        self.pointers = ()
        self.service_where = None
        self.dates = []
        self.teeth = None
        self.references = None
        self.adjudications = None
        self.rendering = None

    def build(self) -> m.ServiceLine:
        units_raw = self.units_raw
        return _ServiceLine(  # positional, in field order: cheaper than 19 keywords
            self.number,
            self.procedure_qualifier,
            self.procedure,
            self.modifiers,
            parse_decimal(self.charge_raw),
            self.charge_raw,
            self.place_of_service,
            self.areas,
            self.prosthesis,
            parse_decimal(units_raw) if units_raw else _ONE,
            units_raw,
            self.pointers,
            tuple(self.teeth) if self.teeth else (),
            tuple(self.dates),
            tuple(self.references) if self.references else (),
            tuple(self.adjudications) if self.adjudications else (),
            self.rendering.build() if self.rendering else None,
            self.where,
            self.service_where,
        )


class _CobBuilder:
    responsibility: str
    relationship: str
    where: m.Where
    paid_amount: Decimal | None
    adjustments: list[m.Adjustment]
    payer: _PartyBuilder | None

    def __init__(self, responsibility: str, relationship: str, where: m.Where) -> None:
        self.responsibility = responsibility
        self.relationship = relationship
        self.where = where
        self.paid_amount = None
        self.adjustments = []
        self.payer = None

    def build(self) -> m.OtherPayer:
        return _OtherPayer(
            self.responsibility,
            self.relationship,
            self.paid_amount,
            tuple(self.adjustments),
            self.payer.build() if self.payer else None,
            self.where,
        )


class _ClaimBuilder:
    elements: list[str]
    component: str
    where: m.Where
    envelope: m.Envelope
    billing: m.BillingProvider | None
    subscriber: m.Subscriber | None
    patient: m.Patient | None
    payer: m.Payer | None
    transaction_date: dt.date | None
    dates: list[m.DateValue]
    references: list[m.Reference] | None  # lists made on first use: most stay empty
    notes: list[m.Note] | None
    attachments: list[m.Attachment] | None
    diagnoses: list[tuple[str, str]] | None
    tooth_status: list[m.ToothStatus] | None
    ortho: tuple[str, ...]
    patient_paid: Decimal | None
    rendering: _PartyBuilder | None
    facility: _PartyBuilder | None
    cob: list[_CobBuilder]
    lines: list[_LineBuilder]

    def __init__(
        self,
        elements: list[str],
        component: str,
        where: m.Where,
        envelope: m.Envelope,
        billing: m.BillingProvider | None,
        subscriber: m.Subscriber | None,
        patient: m.Patient | None,
        payer: m.Payer | None,
        transaction_date: dt.date | None,
    ) -> None:
        self.elements = elements
        self.component = component
        self.where = where
        self.envelope = envelope
        self.billing = billing
        self.subscriber = subscriber
        self.patient = patient
        self.payer = payer
        self.transaction_date = transaction_date
        self.dates = []
        self.references = None
        self.notes = None
        self.attachments = None
        self.diagnoses = None
        self.tooth_status = None
        self.ortho = ()
        self.patient_paid = None
        self.rendering = None
        self.facility = None
        self.cob = []
        self.lines = []

    def build(self, end_position: int | None) -> m.Claim:
        el, c = self.elements, self.component
        clm05 = el[5].split(c)
        total_raw = el[2]
        cob = self.cob
        return _Claim(  # positional, in field order: cheaper than 34 keywords
            el[1],  # claim_id
            parse_decimal(total_raw),
            total_raw,
            clm05[0],  # place_of_service (split always gives at least one part)
            clm05[1] if len(clm05) > 1 else "",  # claim_form
            clm05[2] if len(clm05) > 2 else "",  # frequency
            el[6],  # provider_signature
            el[7],  # assignment
            el[8],  # benefits_assignment
            el[9],  # release_of_information
            _components(el[11], c),  # related_causes
            el[12],  # special_program
            el[19] == "PB",  # predetermination
            el[20],  # delay_reason
            tuple(self.dates),
            tuple(self.references) if self.references else (),
            tuple(self.notes) if self.notes else (),
            tuple(self.attachments) if self.attachments else (),
            tuple(self.diagnoses) if self.diagnoses else (),
            tuple(self.tooth_status) if self.tooth_status else (),
            self.ortho,
            self.patient_paid,
            self.rendering.build() if self.rendering else None,
            self.facility.build() if self.facility else None,  # service_facility
            tuple([b.build() for b in cob]) if cob else (),  # other_payers
            tuple([b.build() for b in self.lines]),
            self.billing,
            self.subscriber,
            self.patient,
            self.payer,
            self.envelope,
            self.transaction_date,
            self.where,
            end_position,
        )


ClaimSink = Callable[[m.Claim], None]
TransactionSink = Callable[[m.Transaction], None]

# Where inside a claim the last segment was: decides what a REF, DTP, NM1 or CAS belongs to.
_CLAIM, _CLAIM_PARTY, _COB, _COB_PARTY, _LINE, _LINE_PARTY, _LINE_ADJ = range(7)
_IN_COB = frozenset((_COB, _COB_PARTY))
_IN_LINE = frozenset((_LINE, _LINE_PARTY, _LINE_ADJ))
_IN_PARTY = frozenset((_CLAIM_PARTY, _COB_PARTY, _LINE_PARTY))


def _person(p: _PartyBuilder | None) -> tuple[m.Party | None, m.DateValue | None, str]:
    """A subscriber's or patient's name, birth date and gender as read so far."""
    if p is None:
        return None, None, ""
    return p.build(), p.birth_date, p.gender


def _same_person(
    built: m.Subscriber | m.Patient | None,
    same_fields: bool,
    party: m.Party | None,
    birth: m.DateValue | None,
    gender: str,
) -> bool:
    """Whether the object built for an earlier claim still stands (then it is shared)."""
    return (
        built is not None
        and same_fields
        and built.party is party
        and built.birth_date is birth
        and built.gender is gender
    )


def _no_claim(claim: m.Claim) -> None:
    return None


class ModelBuilder:
    """Feed tokens in file order; claims and transactions come out through the sinks."""

    # Slots: the handlers read and write these for every segment, and an instance with
    # this many attributes in a __dict__ is past what CPython keeps in its fast layout.
    __slots__ = (
        "_area",
        "_bht",
        "_billing",
        "_billing_hl",
        "_billing_party",
        "_billing_taxonomy",
        "_claim",
        "_current_delimiters",
        "_delimiters",
        "_group_transactions",
        "_gs",
        "_gs_where",
        "_hl_changed",
        "_isa",
        "_isa_where",
        "_on_claim",
        "_on_group",
        "_on_interchange",
        "_on_transaction",
        "_party",
        "_pat_fields",
        "_pat_from",
        "_pat_party",
        "_patient",
        "_payer",
        "_payer_party",
        "_receiver",
        "_st",
        "_st_where",
        "_sub_fields",
        "_sub_from",
        "_sub_party",
        "_submitter",
        "_subscriber",
        "_transaction_date",
        "_tx_claims",
        "_tx_lines",
        "claim_id",
        "claims",
        "envelope",
        "groups",
        "interchanges",
        "line_number",
        "position",
        "procedure",
        "service_lines",
        "transactions",
    )

    def __init__(
        self,
        on_claim: ClaimSink,
        on_transaction: TransactionSink | None = None,
        on_group: Callable[[m.FunctionalGroup], None] | None = None,
        on_interchange: Callable[[m.Interchange], None] | None = None,
    ) -> None:
        self._on_claim = on_claim
        self._on_transaction = on_transaction
        self._on_group = on_group
        self._on_interchange = on_interchange
        self.interchanges = 0
        self.groups = 0
        self.transactions = 0
        self.claims = 0
        self.service_lines = 0
        self.claim_id: str | None = None
        self.line_number: str | None = None
        self.procedure: str | None = None
        self.envelope = m.Envelope()
        self.position: int | None = None
        self._reset_transaction()
        self._isa: list[str] | None = None
        self._isa_where: m.Where | None = None
        self._gs: list[str] | None = None
        self._gs_where: m.Where | None = None
        self._group_transactions: list[str] = []
        self._st: list[str] | None = None
        self._st_where: m.Where | None = None
        self._hl_changed = False
        self._current_delimiters = Delimiters("*", ":", "^", "~")
        self._delimiters = self._current_delimiters

    def _reset_transaction(self) -> None:
        self._billing: m.BillingProvider | None = None
        self._billing_party: _PartyBuilder | None = None
        self._billing_taxonomy: str | None = None
        self._billing_hl: tuple[str, m.Where] | None = None
        self._sub_fields: tuple[str, list[str], m.Where] | None = None
        self._sub_party: _PartyBuilder | None = None
        self._subscriber: m.Subscriber | None = None
        # Compared with ==, not `is`: the compiled build keeps such tuples unboxed, so the
        # same fields read twice are two tuple objects (equal: same HL id, list, Where).
        self._sub_from: tuple[str, list[str], m.Where] | None = None
        self._pat_fields: tuple[str, list[str], m.Where] | None = None
        self._pat_party: _PartyBuilder | None = None
        self._patient: m.Patient | None = None
        self._pat_from: tuple[str, list[str], m.Where] | None = None
        self._payer_party: _PartyBuilder | None = None
        self._payer: m.Payer | None = None
        self._party: _PartyBuilder | None = None
        self._claim: _ClaimBuilder | None = None
        self._area = _CLAIM
        self._bht: list[str] = []
        self._transaction_date: dt.date | None = None
        self._submitter: _PartyBuilder | None = None
        self._receiver: _PartyBuilder | None = None
        self._tx_claims = 0
        self._tx_lines = 0
        self.claim_id = None
        self.line_number = None
        self.procedure = None

    # -- flushing ---------------------------------------------------------------

    def _close_hl_parties(self) -> None:
        """Freeze the provider/subscriber/patient read so far; claims point at frozen values.

        A value already frozen is kept when nothing it was made from was replaced since (each
        input compared by identity, so an equal value is all a reuse can give): claims under
        one billing provider or subscriber share one object instead of each making a copy.
        """
        if self._billing_hl is not None:
            hl_id, where = self._billing_hl
            party = self._billing_party.build() if self._billing_party else None
            billing = self._billing
            if (
                billing is None
                or billing.where is not where
                or billing.party is not party
                or billing.taxonomy is not self._billing_taxonomy
            ):
                self._billing = _BillingProvider(hl_id, party, self._billing_taxonomy, where)
        fields = self._sub_fields
        if fields is not None:
            party, birth, gender = _person(self._sub_party)
            if not _same_person(self._subscriber, self._sub_from == fields, party, birth, gender):
                hl_id, sbr, where = fields
                self._subscriber = _Subscriber(
                    hl_id, _get(sbr, 1), _get(sbr, 2), _get(sbr, 3), party, birth, gender, where
                )
                self._sub_from = fields
        if self._payer_party is not None:
            party = self._payer_party.build()
            if self._payer is None or self._payer.party is not party:
                self._payer = _Payer(party)
        fields = self._pat_fields
        if fields is not None:
            party, birth, gender = _person(self._pat_party)
            if not _same_person(self._patient, self._pat_from == fields, party, birth, gender):
                hl_id, pat_el, where = fields
                self._patient = _Patient(hl_id, _get(pat_el, 1), party, birth, gender, where)
                self._pat_from = fields

    def _flush_claim(self, end_position: int | None) -> None:
        claim = self._claim
        if claim is None:
            return
        self._claim = None
        self.claim_id = None
        self.line_number = None
        self.procedure = None
        built = claim.build(end_position)
        self.claims += 1
        self._tx_claims += 1
        lines = len(built.lines)
        self.service_lines += lines
        self._tx_lines += lines
        self._on_claim(built)

    def release(self) -> None:
        """Forget the callbacks. They are the caller's closures, which usually reach this
        builder again (check_stream's checker asks it for the claim in hand): a reference
        cycle that kept a whole file's state alive until the next full collection."""
        self._on_claim = _no_claim
        self._on_transaction = self._on_group = self._on_interchange = None

    def finish(self) -> None:
        """End of input: hand on what was still open (a truncated file still reports it)."""
        self._flush_claim(self.position)
        self._close_transaction(None)
        self._close_group(None)
        self._close_interchange(None)

    # -- feeding ----------------------------------------------------------------

    def feed(self, tok: Token) -> None:
        seg = tok.seg_id
        position = self.position
        if position is not None and seg not in _POSITION_IDS:
            position += 1  # the usual case first: a segment inside a transaction set
        elif seg == "ST":
            position = 1
        elif seg in _ENVELOPE_IDS:
            position = None
            self._current_delimiters = tok.delimiters  # an ISA keeps them for its TA1/999
        self.position = position
        handler = _HANDLERS.get(seg)
        if handler is not None:
            el = tok.fields()
            n = len(el)
            if n < _PADDED:
                el = el + _PAD[n]  # a copy: the token's list is shared with the checker
            handler(self, el, _where(_Where, (seg, position, tok.line)), tok.delimiters.component)

    # envelope

    def _h_isa(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(self.position)
        self._close_transaction(None)
        self._close_group(None)
        self._close_interchange(None)
        self._isa, self._isa_where = el, where
        self._delimiters = self._current_delimiters
        self.envelope = m.Envelope(el[13].strip() or None)
        self.interchanges += 1

    def _h_iea(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(None)
        self._close_transaction(None)
        self._close_group(None)
        self._close_interchange(el)

    def _close_interchange(self, iea: list[str] | None) -> None:
        i, where = self._isa, self._isa_where
        self._isa = None
        if i is None or where is None or self._on_interchange is None:
            return
        d = self._delimiters
        self._on_interchange(
            m.Interchange(
                _get(i, 13).strip(),
                _get(i, 5).strip(),
                _get(i, 6).strip(),
                _get(i, 7).strip(),
                _get(i, 8).strip(),
                _get(i, 9),
                _get(i, 10),
                _get(i, 12),
                _get(i, 14),
                _get(i, 15),
                where,
                element_separator=d.element,
                component_separator=d.component,
                repetition_separator=d.repetition,
                segment_terminator=d.segment,
                authorization=(_get(i, 1), _get(i, 2)),
                security=(_get(i, 3), _get(i, 4)),
                trailer_count=_get(iea, 1) if iea is not None else None,
                trailer_control=_get(iea, 2) if iea is not None else None,
            )
        )

    def _h_gs_seg(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(None)
        self._close_transaction(None)
        self._close_group(None)
        self._gs, self._gs_where = el, where
        self._group_transactions = []
        self.envelope = m.Envelope(self.envelope.interchange_control, el[6] or None)
        self.groups += 1

    def _h_ge(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(None)
        self._close_transaction(None)
        self._close_group(el)

    def _close_group(self, ge: list[str] | None) -> None:
        g, where = self._gs, self._gs_where
        self._gs = None
        if g is None or where is None or self._on_group is None:
            return
        self._on_group(
            m.FunctionalGroup(
                _get(g, 6),
                _get(g, 1),
                _get(g, 2),
                _get(g, 3),
                _get(g, 4),
                _get(g, 5),
                _get(g, 8),
                tuple(self._group_transactions),
                where,
                interchange_control=self.envelope.interchange_control,
                trailer_count=_get(ge, 1) if ge is not None else None,
            )
        )

    def _h_st_seg(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(self.position)
        self._close_transaction(None)
        self._reset_transaction()
        self._st, self._st_where = el, where
        self.envelope = m.Envelope(
            self.envelope.interchange_control, self.envelope.group_control, el[2] or None
        )
        self._group_transactions.append(el[2])
        self.transactions += 1

    def _h_bht(self, el: list[str], where: m.Where, c: str) -> None:
        self._bht = el
        self._transaction_date = parse_date(el[4])

    def _h_se(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(self.position)
        self._close_transaction(el)
        self.position = None

    def _close_transaction(self, se: list[str] | None) -> None:
        st, where = self._st, self._st_where
        self._st = None
        if st is None or where is None or self._on_transaction is None:
            return
        b = self._bht
        self._on_transaction(
            m.Transaction(
                _get(st, 2),
                _get(st, 1),
                _get(st, 3),
                _get(b, 2),
                _get(b, 6),
                self._transaction_date,
                self._tx_claims,
                self._tx_lines,
                self.envelope,
                where,
                trailer_count=_get(se, 1) if se is not None else None,
                reference=_get(b, 3),
                submitter=self._submitter.build() if self._submitter else None,
                receiver=self._receiver.build() if self._receiver else None,
            )
        )

    # hierarchy

    def _h_hl(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(self.position)
        self._party = None
        level = el[3]
        if level == "20":
            self._billing_hl = (el[1], where)
            self._billing_party, self._billing_taxonomy, self._billing = None, None, None
            self._sub_fields, self._sub_party, self._subscriber = None, None, None
            self._payer_party, self._payer = None, None
            self._pat_fields, self._pat_party, self._patient = None, None, None
        elif level == "22":
            self._sub_fields = (el[1], [], where)
            self._sub_party, self._subscriber = None, None
            self._payer_party, self._payer = None, None
            self._pat_fields, self._pat_party, self._patient = None, None, None
        elif level == "23":
            self._pat_fields = (el[1], [], where)
            self._pat_party, self._patient = None, None

    def _h_sbr(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.cob.append(_CobBuilder(el[1], el[2], where))
            self._area = _COB
            self._party = None
        elif self._sub_fields is not None:
            self._sub_fields = (self._sub_fields[0], el, self._sub_fields[2])

    def _h_pat(self, el: list[str], where: m.Where, c: str) -> None:
        self._hl_changed = True
        if self._pat_fields is not None:
            self._pat_fields = (self._pat_fields[0], el, self._pat_fields[2])

    def _h_prv(self, el: list[str], where: m.Where, c: str) -> None:
        party = self._party
        if party is not None:
            party.taxonomy = el[3]
            party.built = None
        elif self._claim is None and self._billing_hl is not None and el[1] == "BI":
            self._billing_taxonomy = el[3]

    def _h_nm1(self, el: list[str], where: m.Where, c: str) -> None:
        entity = el[1]
        party = _PartyBuilder(entity, el[2], el[3], el[4], el[8], el[9], where)
        self._party = party
        claim = self._claim
        if claim is None:
            if entity == "41":
                self._submitter = party
            elif entity == "40":
                self._receiver = party
            elif entity == "85":
                self._billing_party = party
            elif entity == "IL":
                self._sub_party = party
            elif entity == "PR":
                self._payer_party = party
            elif entity == "QC":
                self._pat_party = party
            return
        area = self._area
        if area in _IN_COB:
            self._area = _COB_PARTY
            if entity == "PR" and claim.cob:
                claim.cob[-1].payer = party
        elif area in _IN_LINE and claim.lines:
            self._area = _LINE_PARTY
            if entity == "82":
                claim.lines[-1].rendering = party
        else:
            self._area = _CLAIM_PARTY
            if entity == "82":
                claim.rendering = party
            elif entity == "77":
                claim.facility = party

    def _h_n3(self, el: list[str], where: m.Where, c: str) -> None:
        party = self._party
        if party is not None:
            party.address_line = el[1]
            party.built = None

    def _h_n4(self, el: list[str], where: m.Where, c: str) -> None:
        party = self._party
        if party is not None:
            party.city, party.state, party.zip, party.country = el[1], el[2], el[3], el[4]
            party.n4_where = where
            party.built = None

    def _h_dmg(self, el: list[str], where: m.Where, c: str) -> None:
        party = self._party
        if party is not None:  # birth date and gender are the subscriber's or patient's
            party.birth_date = _birth_date(el[1], el[2], where)
            party.gender = el[3]

    def _h_ref(self, el: list[str], where: m.Where, c: str) -> None:
        ref = _Reference(el[1], el[2], where)
        claim = self._claim
        area = self._area
        if claim is None or area in _IN_PARTY:
            party = self._party
            if party is not None:
                party.references = _added(party.references, ref)
                party.built = None
        elif area == _LINE and claim.lines:
            line = claim.lines[-1]
            line.references = _added(line.references, ref)
        elif area == _CLAIM:
            claim.references = _added(claim.references, ref)

    def _h_clm(self, el: list[str], where: m.Where, c: str) -> None:
        # CLM right after the previous claim (no HL, ST... closed it in between): the
        # parties are the ones already frozen for it, unless a PAT came inside the claim.
        same_parties = self._claim is not None and not self._hl_changed
        self._flush_claim(self.position)
        if not same_parties:
            self._close_hl_parties()
        self._hl_changed = False
        self._party = None
        self._area = _CLAIM
        self._claim = _ClaimBuilder(
            el,
            c,
            where,
            self.envelope,
            self._billing,
            self._subscriber,
            self._patient if self._pat_fields is not None else None,
            self._payer,
            self._transaction_date,
        )
        self.claim_id = el[1]

    def _h_dtp(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        area = self._area
        if area == _CLAIM:
            dates = claim.dates
        elif area == _LINE and claim.lines:
            dates = claim.lines[-1].dates
        else:
            return
        qualifier, fmt, raw = el[1], el[2], el[3]
        if fmt == "D8" and raw in _DATES:  # the usual DTP: make_date's answer, two calls less
            day = _DATES[raw]
            dates.append(_DateValue(qualifier, fmt, raw, day, day, where))
        else:
            dates.append(make_date(qualifier, fmt, raw, where))

    def _h_dn1(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.ortho = (el[1], el[2])

    def _h_dn2(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            claim = self._claim
            claim.tooth_status = _added(claim.tooth_status, _ToothStatus(el[1], el[2], where))

    def _h_pwk(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            claim = self._claim
            claim.attachments = _added(
                claim.attachments, _Attachment(el[1], el[2], el[5], el[6], where)
            )

    def _h_amt(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        amount = parse_decimal(el[2])
        if self._area == _CLAIM and el[1] == "F5":
            claim.patient_paid = amount
        elif self._area in _IN_COB and el[1] == "D" and claim.cob:
            claim.cob[-1].paid_amount = amount

    def _h_nte(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            claim = self._claim
            claim.notes = _added(claim.notes, _Note(el[1], el[2], where))

    def _h_hi(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is not None:
            for comp in el[1:]:
                parts = comp.split(c)
                if parts and parts[0]:
                    code = (parts[0], parts[1] if len(parts) > 1 else "")
                    claim.diagnoses = _added(claim.diagnoses, code)

    def _h_cas(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        reasons = tuple(el[i] for i in (2, 5, 8, 11, 14, 17) if el[i])
        amounts = tuple(parse_decimal(el[i]) for i in (3, 6, 9, 12, 15, 18) if el[i])
        adj = _Adjustment(el[1], reasons, amounts, where)
        adjudications = claim.lines[-1].adjudications if claim.lines else None
        if self._area == _LINE_ADJ and adjudications:
            last = adjudications[-1]
            adjudications[-1] = attrs.evolve(last, adjustments=(*last.adjustments, adj))
        elif self._area in _IN_COB and claim.cob:
            claim.cob[-1].adjustments.append(adj)

    def _h_lx(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        self._area = _LINE
        self._party = None
        claim.lines.append(_LineBuilder(el[1], where))
        self.line_number = el[1]
        self.procedure = None

    def _h_sv3(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        line = claim.lines[-1]
        proc = el[1].split(c)
        line.procedure_qualifier = proc[0]
        line.procedure = proc[1] if len(proc) > 1 else ""
        line.modifiers = tuple(filter(None, proc[2:6])) if len(proc) > 2 else ()
        line.charge_raw = el[2]
        line.place_of_service = el[3]
        areas, pointers = el[4], el[11]  # composites, mostly empty: _components inlined
        line.areas = tuple(filter(None, areas.split(c))) if areas else ()
        line.prosthesis = el[5]
        line.units_raw = el[6]
        line.pointers = tuple(filter(None, pointers.split(c))) if pointers else ()
        line.service_where = where
        self.procedure = line.procedure or None

    def _h_too(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        line = claim.lines[-1]
        line.teeth = _added(line.teeth, _ToothInfo(el[1], el[2], _components(el[3], c), where))

    def _h_svd(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        self._area = _LINE_ADJ
        proc = el[3].split(c)
        line = claim.lines[-1]
        line.adjudications = _added(
            line.adjudications,
            _LineAdjudication(
                el[1],
                parse_decimal(el[2]),
                proc[1] if len(proc) > 1 else "",
                parse_decimal(el[5]),
                (),
                where,
            ),
        )


_Handler = Callable[[ModelBuilder, list[str], m.Where, str], None]
_HANDLERS: dict[str, _Handler] = {
    "ISA": ModelBuilder._h_isa,
    "IEA": ModelBuilder._h_iea,
    "GS": ModelBuilder._h_gs_seg,
    "GE": ModelBuilder._h_ge,
    "ST": ModelBuilder._h_st_seg,
    "SE": ModelBuilder._h_se,
    "BHT": ModelBuilder._h_bht,
    "HL": ModelBuilder._h_hl,
    "SBR": ModelBuilder._h_sbr,
    "PAT": ModelBuilder._h_pat,
    "PRV": ModelBuilder._h_prv,
    "NM1": ModelBuilder._h_nm1,
    "N3": ModelBuilder._h_n3,
    "N4": ModelBuilder._h_n4,
    "DMG": ModelBuilder._h_dmg,
    "REF": ModelBuilder._h_ref,
    "CLM": ModelBuilder._h_clm,
    "DTP": ModelBuilder._h_dtp,
    "DN1": ModelBuilder._h_dn1,
    "DN2": ModelBuilder._h_dn2,
    "PWK": ModelBuilder._h_pwk,
    "AMT": ModelBuilder._h_amt,
    "NTE": ModelBuilder._h_nte,
    "HI": ModelBuilder._h_hi,
    "CAS": ModelBuilder._h_cas,
    "LX": ModelBuilder._h_lx,
    "SV3": ModelBuilder._h_sv3,
    "TOO": ModelBuilder._h_too,
    "SVD": ModelBuilder._h_svd,
}
