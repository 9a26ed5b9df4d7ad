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

import attrs

from x12dental import model as m
from x12dental.tokenizer import Delimiters, Token

# Amounts and dates repeat a lot across claims, and Decimal and date values are
# immutable: parsed once, shared (bounded, so memory stays flat however large the file).
_CACHE_LIMIT = 8192
_DECIMALS: dict[str, Decimal | None] = {}
_DATES: dict[str, dt.date | None] = {}


def parse_decimal(raw: str) -> Decimal | None:
    """X12 R values: an optional sign, digits and an optional point; anything else is None."""
    if not raw:
        return None
    try:
        return _DECIMALS[raw]
    except KeyError:
        pass
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


def parse_date(raw: str) -> dt.date | None:
    try:
        return _DATES[raw]
    except KeyError:
        pass
    day: dt.date | None = None
    if len(raw) == 8 and raw.isdigit():
        try:
            day = dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        except ValueError:
            day = None
    if len(_DATES) >= _CACHE_LIMIT:
        _DATES.clear()
    _DATES[raw] = day
    return day


def make_date(qualifier: str, fmt: str, raw: str, where: m.Where) -> m.DateValue:
    if fmt == "RD8" and "-" in raw:
        first, _, last = raw.partition("-")
        return m.DateValue(qualifier, fmt, raw, parse_date(first), parse_date(last), where)
    day = parse_date(raw)
    return m.DateValue(qualifier, fmt, raw, day, day, where)


_ENVELOPE_IDS = frozenset(("ISA", "GS", "GE", "IEA"))
_POSITION_IDS = _ENVELOPE_IDS | {"ST"}  # segments that set the position from ST, not count on
# m.Where is a NamedTuple: tuple.__new__ makes one without the Python-level __new__ call.
_Where = m.Where
_where: Callable[[type[m.Where], tuple[str, int | None, int | None]], m.Where] = tuple.__new__
# Handlers read elements by index: lists are padded with "" up to this many elements
# (X12 drops trailing empty elements; the highest element read is CLM20).
_PADDED = 20
_PAD: tuple[list[str], ...] = tuple([""] * (_PADDED - n) for n in range(_PADDED))


def _get(el: list[str], i: int) -> str:
    """Element i (1-based), '' when absent: X12 drops trailing empty elements."""
    return el[i - 1] if len(el) >= i else ""


@attrs.define
class _PartyBuilder:
    entity: str
    entity_type: str
    last_or_org: str
    first: str
    id_qualifier: str
    id: str
    where: m.Where
    address_line: str = ""
    address_where: m.Where | None = None
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    n4_where: m.Where | None = None
    taxonomy: str | None = None
    references: list[m.Reference] = attrs.field(factory=list)
    birth_date: m.DateValue | None = None
    gender: str = ""

    def build(self) -> m.Party:
        address = None
        if self.n4_where is not None:
            address = m.Address(
                self.address_line, self.city, self.state, self.zip, self.country, self.n4_where
            )
        return m.Party(
            self.entity,
            self.entity_type,
            self.last_or_org,
            self.first,
            self.id_qualifier,
            self.id,
            self.where,
            address,
            self.taxonomy,
            tuple(self.references),
        )


@attrs.define
class _LineBuilder:
    number: str
    where: m.Where
    procedure_qualifier: str = ""
    procedure: str = ""
    modifiers: tuple[str, ...] = ()
    charge_raw: str = ""
    place_of_service: str = ""
    areas: tuple[str, ...] = ()
    prosthesis: str = ""
    units_raw: str = ""
    pointers: tuple[str, ...] = ()
    service_where: m.Where | None = None
    teeth: list[m.ToothInfo] = attrs.field(factory=list)
    dates: list[m.DateValue] = attrs.field(factory=list)
    references: list[m.Reference] = attrs.field(factory=list)
    adjudications: list[m.LineAdjudication] = attrs.field(factory=list)
    rendering: _PartyBuilder | None = None

    def build(self) -> m.ServiceLine:
        return m.ServiceLine(
            number=self.number,
            procedure_qualifier=self.procedure_qualifier,
            procedure=self.procedure,
            modifiers=self.modifiers,
            charge=parse_decimal(self.charge_raw),
            charge_raw=self.charge_raw,
            place_of_service=self.place_of_service,
            areas=self.areas,
            prosthesis=self.prosthesis,
            units=parse_decimal(self.units_raw) if self.units_raw else Decimal(1),
            units_raw=self.units_raw,
            diagnosis_pointers=self.pointers,
            teeth=tuple(self.teeth),
            dates=tuple(self.dates),
            references=tuple(self.references),
            adjudications=tuple(self.adjudications),
            rendering=self.rendering.build() if self.rendering else None,
            where=self.where,
            service_where=self.service_where,
        )


@attrs.define
class _CobBuilder:
    responsibility: str
    relationship: str
    where: m.Where
    paid_amount: Decimal | None = None
    adjustments: list[m.Adjustment] = attrs.field(factory=list)
    payer: _PartyBuilder | None = None

    def build(self) -> m.OtherPayer:
        return m.OtherPayer(
            self.responsibility,
            self.relationship,
            self.paid_amount,
            tuple(self.adjustments),
            self.payer.build() if self.payer else None,
            self.where,
        )


@attrs.define
class _AdjBuilder:
    payer_id: str
    paid_amount: Decimal | None
    procedure: str
    paid_units: Decimal | None
    where: m.Where
    adjustments: list[m.Adjustment] = attrs.field(factory=list)

    def build(self) -> m.LineAdjudication:
        return m.LineAdjudication(
            self.payer_id,
            self.paid_amount,
            self.procedure,
            self.paid_units,
            tuple(self.adjustments),
            self.where,
        )


@attrs.define
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
    dates: list[m.DateValue] = attrs.field(factory=list)
    references: list[m.Reference] = attrs.field(factory=list)
    notes: list[m.Note] = attrs.field(factory=list)
    attachments: list[m.Attachment] = attrs.field(factory=list)
    diagnoses: list[tuple[str, str]] = attrs.field(factory=list)
    tooth_status: list[m.ToothStatus] = attrs.field(factory=list)
    ortho: tuple[str, ...] = ()
    patient_paid: Decimal | None = None
    rendering: _PartyBuilder | None = None
    facility: _PartyBuilder | None = None
    cob: list[_CobBuilder] = attrs.field(factory=list)
    lines: list[_LineBuilder] = attrs.field(factory=list)

    def build(self, end_position: int | None) -> m.Claim:
        el, c = self.elements, self.component
        clm05 = el[4].split(c)
        clm11 = tuple(filter(None, el[10].split(c)))
        total_raw = el[1]
        return m.Claim(
            claim_id=el[0],
            total_charge=parse_decimal(total_raw),
            total_charge_raw=total_raw,
            place_of_service=clm05[0] if clm05 else "",
            claim_form=clm05[1] if len(clm05) > 1 else "",
            frequency=clm05[2] if len(clm05) > 2 else "",
            provider_signature=el[5],
            assignment=el[6],
            benefits_assignment=el[7],
            release_of_information=el[8],
            related_causes=clm11,
            special_program=el[11],
            predetermination=el[18] == "PB",
            delay_reason=el[19],
            dates=tuple(self.dates),
            references=tuple(self.references),
            notes=tuple(self.notes),
            attachments=tuple(self.attachments),
            diagnoses=tuple(self.diagnoses),
            tooth_status=tuple(self.tooth_status),
            ortho_months=self.ortho,
            patient_paid=self.patient_paid,
            rendering=self.rendering.build() if self.rendering else None,
            service_facility=self.facility.build() if self.facility else None,
            other_payers=tuple(b.build() for b in self.cob),
            lines=tuple(b.build() for b in self.lines),
            billing_provider=self.billing,
            subscriber=self.subscriber,
            patient=self.patient,
            payer=self.payer,
            envelope=self.envelope,
            transaction_date=self.transaction_date,
            where=self.where,
            end_position=end_position,
        )


ClaimSink = Callable[[m.Claim], None]
TransactionSink = Callable[[m.Transaction], None]

# Where inside a claim the last segment was: decides what a REF, DTP, NM1 or CAS belongs to.
_CLAIM, _CLAIM_PARTY, _COB, _COB_PARTY, _LINE, _LINE_PARTY, _LINE_ADJ = range(7)


class ModelBuilder:
    """Feed tokens in file order; claims and transactions come out through the sinks."""

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
        self._pat_fields: tuple[str, list[str], m.Where] | None = None
        self._pat_party: _PartyBuilder | None = None
        self._patient: m.Patient | None = None
        self._payer_party: _PartyBuilder | None = None
        self._payer: m.Payer | None = None
        self._party: _PartyBuilder | None = None
        self._claim: _ClaimBuilder | None = None
        self._area = _CLAIM
        self._bht: list[str] = []
        self._submitter: _PartyBuilder | None = None
        self._receiver: _PartyBuilder | None = None
        self._tx_claims = 0
        self._tx_lines = 0
        self.claim_id = None
        self.line_number = None
        self.procedure = None

    # -- flushing ---------------------------------------------------------------

    def _close_hl_parties(self) -> None:
        """Freeze the provider/subscriber/patient read so far; claims point at frozen values."""
        if self._billing_hl is not None:
            hl_id, where = self._billing_hl
            self._billing = m.BillingProvider(
                hl_id,
                self._billing_party.build() if self._billing_party else None,
                self._billing_taxonomy,
                where,
            )
        if self._sub_fields is not None:
            hl_id, sbr, where = self._sub_fields
            p = self._sub_party
            self._subscriber = m.Subscriber(
                hl_id,
                _get(sbr, 1),
                _get(sbr, 2),
                _get(sbr, 3),
                p.build() if p else None,
                p.birth_date if p else None,
                p.gender if p else "",
                where,
            )
        if self._payer_party is not None:
            self._payer = m.Payer(self._payer_party.build())
        if self._pat_fields is not None:
            hl_id, pat, where = self._pat_fields
            p = self._pat_party
            self._patient = m.Patient(
                hl_id,
                _get(pat, 1),
                p.build() if p else None,
                p.birth_date if p else None,
                p.gender if p else "",
                where,
            )

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
        self.service_lines += len(built.lines)
        self._tx_lines += len(built.lines)
        self._on_claim(built)

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
        self.position = position
        delimiters = tok.delimiters
        self._current_delimiters = delimiters
        handler = _HANDLERS.get(seg)
        if handler is not None:
            el = tok.text.split(delimiters.element)
            # Element i is el[i - 1] in the handlers: padded so absent trailing elements read "".
            del el[0]
            if len(el) < _PADDED:
                el += _PAD[len(el)]
            handler(self, el, _where(_Where, (seg, position, tok.line)), delimiters.component)

    # envelope

    def _h_isa(self, el: list[str], where: m.Where, c: str) -> None:
        self._flush_claim(self.position)
        self._close_transaction(None)
        self._close_group(None)
        self._close_interchange(None)
        self._isa, self._isa_where = el, where
        self._delimiters = self._current_delimiters
        self.envelope = m.Envelope(el[12].strip() or None)
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
        self.envelope = m.Envelope(self.envelope.interchange_control, el[5] or None)
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
            self.envelope.interchange_control, self.envelope.group_control, el[1] or None
        )
        self._group_transactions.append(el[1])
        self.transactions += 1

    def _h_bht(self, el: list[str], where: m.Where, c: str) -> None:
        self._bht = el

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
                parse_date(_get(b, 4)),
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
        level = el[2]
        if level == "20":
            self._billing_hl = (el[0], where)
            self._billing_party, self._billing_taxonomy, self._billing = None, None, None
            self._sub_fields, self._sub_party, self._subscriber = None, None, None
            self._payer_party, self._payer = None, None
            self._pat_fields, self._pat_party, self._patient = None, None, None
        elif level == "22":
            self._sub_fields = (el[0], [], where)
            self._sub_party, self._subscriber = None, None
            self._payer_party, self._payer = None, None
            self._pat_fields, self._pat_party, self._patient = None, None, None
        elif level == "23":
            self._pat_fields = (el[0], [], where)
            self._pat_party, self._patient = None, None

    def _h_sbr(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.cob.append(_CobBuilder(el[0], el[1], where))
            self._area = _COB
            self._party = None
        elif self._sub_fields is not None:
            self._sub_fields = (self._sub_fields[0], el, self._sub_fields[2])

    def _h_pat(self, el: list[str], where: m.Where, c: str) -> None:
        self._hl_changed = True
        if self._pat_fields is not None:
            self._pat_fields = (self._pat_fields[0], el, self._pat_fields[2])

    def _h_prv(self, el: list[str], where: m.Where, c: str) -> None:
        if self._party is not None:
            self._party.taxonomy = el[2]
        elif self._claim is None and self._billing_hl is not None and el[0] == "BI":
            self._billing_taxonomy = el[2]

    def _h_nm1(self, el: list[str], where: m.Where, c: str) -> None:
        entity = el[0]
        party = _PartyBuilder(entity, el[1], el[2], el[3], el[7], el[8], where)
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
        if self._area in (_COB, _COB_PARTY):
            self._area = _COB_PARTY
            if entity == "PR" and claim.cob:
                claim.cob[-1].payer = party
        elif self._area in (_LINE, _LINE_PARTY, _LINE_ADJ) and claim.lines:
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
        if self._party is not None:
            self._party.address_line = el[0]
            self._party.address_where = where

    def _h_n4(self, el: list[str], where: m.Where, c: str) -> None:
        p = self._party
        if p is not None:
            p.city, p.state, p.zip, p.country = el[0], el[1], el[2], el[3]
            p.n4_where = where

    def _h_dmg(self, el: list[str], where: m.Where, c: str) -> None:
        if self._party is not None:
            self._party.birth_date = make_date("DOB", el[0], el[1], where)
            self._party.gender = el[2]

    def _h_ref(self, el: list[str], where: m.Where, c: str) -> None:
        ref = m.Reference(el[0], el[1], where)
        claim = self._claim
        if claim is None or self._area in (_CLAIM_PARTY, _COB_PARTY, _LINE_PARTY):
            if self._party is not None:
                self._party.references.append(ref)
        elif self._area == _LINE and claim.lines:
            claim.lines[-1].references.append(ref)
        elif self._area == _CLAIM:
            claim.references.append(ref)

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
        patient = self._patient if self._pat_fields is not None else None
        self._claim = _ClaimBuilder(
            el,
            c,
            where,
            self.envelope,
            self._billing,
            self._subscriber,
            patient,
            self._payer,
            parse_date(_get(self._bht, 4)),
        )
        self.claim_id = el[0]

    def _h_dtp(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        date = make_date(el[0], el[1], el[2], where)
        if self._area == _CLAIM:
            claim.dates.append(date)
        elif self._area == _LINE and claim.lines:
            claim.lines[-1].dates.append(date)

    def _h_dn1(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.ortho = (el[0], el[1])

    def _h_dn2(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.tooth_status.append(m.ToothStatus(el[0], el[1], where))

    def _h_pwk(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.attachments.append(m.Attachment(el[0], el[1], el[4], el[5], where))

    def _h_amt(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        amount = parse_decimal(el[1])
        if self._area == _CLAIM and el[0] == "F5":
            claim.patient_paid = amount
        elif self._area in (_COB, _COB_PARTY) and el[0] == "D" and claim.cob:
            claim.cob[-1].paid_amount = amount

    def _h_nte(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            self._claim.notes.append(m.Note(el[0], el[1], where))

    def _h_hi(self, el: list[str], where: m.Where, c: str) -> None:
        if self._claim is not None:
            for comp in el:
                parts = comp.split(c)
                if parts and parts[0]:
                    self._claim.diagnoses.append((parts[0], parts[1] if len(parts) > 1 else ""))

    def _h_cas(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        reasons = tuple(el[i - 1] for i in (2, 5, 8, 11, 14, 17) if el[i - 1])
        amounts = tuple(parse_decimal(el[i - 1]) for i in (3, 6, 9, 12, 15, 18) if el[i - 1])
        adj = m.Adjustment(el[0], reasons, amounts, where)
        if self._area == _LINE_ADJ and claim.lines and claim.lines[-1].adjudications:
            line = claim.lines[-1]
            last = line.adjudications[-1]
            line.adjudications[-1] = attrs.evolve(last, adjustments=(*last.adjustments, adj))
        elif self._area in (_COB, _COB_PARTY) and claim.cob:
            claim.cob[-1].adjustments.append(adj)

    def _h_lx(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None:
            return
        self._area = _LINE
        self._party = None
        claim.lines.append(_LineBuilder(el[0], where))
        self.line_number = el[0]
        self.procedure = None

    def _h_sv3(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        line = claim.lines[-1]
        proc = el[0].split(c)
        line.procedure_qualifier = proc[0]
        line.procedure = proc[1] if len(proc) > 1 else ""
        line.modifiers = tuple(filter(None, proc[2:6]))
        line.charge_raw = el[1]
        line.place_of_service = el[2]
        line.areas = tuple(filter(None, el[3].split(c)))
        line.prosthesis = el[4]
        line.units_raw = el[5]
        line.pointers = tuple(filter(None, el[10].split(c)))
        line.service_where = where
        self.procedure = line.procedure or None

    def _h_too(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        surfaces = tuple(filter(None, el[2].split(c)))
        claim.lines[-1].teeth.append(m.ToothInfo(el[0], el[1], surfaces, where))

    def _h_svd(self, el: list[str], where: m.Where, c: str) -> None:
        claim = self._claim
        if claim is None or not claim.lines:
            return
        self._area = _LINE_ADJ
        proc = el[2].split(c)
        claim.lines[-1].adjudications.append(
            _AdjBuilder(
                el[0],
                parse_decimal(el[1]),
                proc[1] if len(proc) > 1 else "",
                parse_decimal(el[4]),
                where,
            ).build()
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
