"""The 837D as a dentist's office and a payer think of it: claims, lines, teeth.

Frozen attrs values, built once per claim by `x12dental.mapper` and never
mutated afterwards, so rules can share them freely. Every object keeps `where`
(the segment that carried it) so any finding about it can be located in the
file and in a 999 (segment position from ST).

The classes take no weak references (`weakref_slot=False`): nothing needs them,
and without that slot `valueclass.fast_constructor` can build their instances for the mapper.
Their repr, == and hash are `valueclass.value_methods`', not generated per class by attrs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

import attrs

from x12dental.valueclass import value_methods


class Where(NamedTuple):
    """A segment's place: id, position from ST (ST = 1, as IK302 counts) and file line.

    A named tuple rather than attrs: the mapper makes one per segment, and a tuple is
    several times cheaper to make than a frozen attrs instance (immutable all the same).
    """

    segment_id: str
    position: int | None
    file_line: int | None


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Envelope:
    """The control numbers a finding or an acknowledgment must quote."""

    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class DateValue:
    """A DTP (or DMG) date: D8 single date or RD8 range; start/end are None when unparseable."""

    qualifier: str
    format: str
    raw: str
    start: dt.date | None
    end: dt.date | None
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Reference:
    """A REF segment: qualifier (REF01, e.g. G1 prior authorization) and value."""

    qualifier: str
    value: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Note:
    """An NTE narrative (2300 NTE*ADD)."""

    code: str
    text: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Attachment:
    """A PWK attachment: report type (PWK01), transmission (PWK02) and control number."""

    report_type: str
    transmission: str
    control_qualifier: str
    control_number: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class ToothInfo:
    """A TOO segment: tooth number in the JP system and its surfaces."""

    system: str
    number: str
    surfaces: tuple[str, ...]
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class ToothStatus:
    """A DN2 segment: a tooth reported missing (M) or to be extracted (E)."""

    number: str
    status: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Address:
    line1: str
    city: str
    state: str
    zip: str
    country: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Party:
    """An NM1 entity: provider, payer, subscriber or patient name and identifier."""

    entity: str
    entity_type: str
    last_or_org: str
    first: str
    id_qualifier: str
    id: str
    where: Where
    address: Address | None = None
    taxonomy: str | None = None
    references: tuple[Reference, ...] = ()


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class BillingProvider:
    """Loop 2000A/2010AA: who bills; its NPI and tax id are what payers match on."""

    hl_id: str
    party: Party | None
    taxonomy: str | None
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Subscriber:
    """Loop 2000B/2010BA: the insured member."""

    hl_id: str
    payer_responsibility: str
    relationship: str
    group_number: str
    party: Party | None
    birth_date: DateValue | None
    gender: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Patient:
    """Loop 2000C/2010CA: the patient when not the subscriber."""

    hl_id: str
    relationship: str
    party: Party | None
    birth_date: DateValue | None
    gender: str
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Payer:
    """Loop 2010BB: the payer the claim goes to."""

    party: Party


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Adjustment:
    """A CAS group: group code and the amounts it carries (reason codes kept for CARC checks)."""

    group: str
    reasons: tuple[str, ...]
    amounts: tuple[Decimal | None, ...]
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class OtherPayer:
    """Loop 2320/2330: coordination of benefits with another payer."""

    responsibility: str
    relationship: str
    paid_amount: Decimal | None
    adjustments: tuple[Adjustment, ...]
    payer: Party | None
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class LineAdjudication:
    """Loop 2430: how another payer adjudicated this line (SVD, CAS, DTP*573)."""

    payer_id: str
    paid_amount: Decimal | None
    procedure: str
    paid_units: Decimal | None
    adjustments: tuple[Adjustment, ...]
    where: Where


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class ServiceLine:
    """Loop 2400: one procedure (SV3) with its teeth, dates and references."""

    number: str
    procedure_qualifier: str
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal | None
    charge_raw: str
    place_of_service: str
    areas: tuple[str, ...]
    prosthesis: str
    units: Decimal | None
    units_raw: str
    diagnosis_pointers: tuple[str, ...]
    teeth: tuple[ToothInfo, ...]
    dates: tuple[DateValue, ...]
    references: tuple[Reference, ...]
    adjudications: tuple[LineAdjudication, ...]
    rendering: Party | None
    where: Where
    service_where: Where | None

    @property
    def line_number(self) -> int | None:
        """LX01 as a number, for the report's `line` field."""
        return int(self.number) if self.number.isdigit() else None

    def date(self, qualifier: str) -> DateValue | None:
        for d in self.dates:
            if d.qualifier == qualifier:
                return d
        return None


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Claim:
    """Loop 2300 and its lines, with the parties it belongs to: the unit payers accept or reject."""

    claim_id: str
    total_charge: Decimal | None
    total_charge_raw: str
    place_of_service: str
    claim_form: str
    frequency: str
    provider_signature: str
    assignment: str
    benefits_assignment: str
    release_of_information: str
    related_causes: tuple[str, ...]
    special_program: str
    predetermination: bool
    delay_reason: str
    dates: tuple[DateValue, ...]
    references: tuple[Reference, ...]
    notes: tuple[Note, ...]
    attachments: tuple[Attachment, ...]
    diagnoses: tuple[tuple[str, str], ...]
    tooth_status: tuple[ToothStatus, ...]
    ortho_months: tuple[str, ...]
    patient_paid: Decimal | None
    rendering: Party | None
    service_facility: Party | None
    other_payers: tuple[OtherPayer, ...]
    lines: tuple[ServiceLine, ...]
    billing_provider: BillingProvider | None
    subscriber: Subscriber | None
    patient: Patient | None
    payer: Payer | None
    envelope: Envelope
    transaction_date: dt.date | None
    where: Where
    end_position: int | None

    def date(self, qualifier: str) -> DateValue | None:
        for d in self.dates:
            if d.qualifier == qualifier:
                return d
        return None

    def references_of(self, qualifier: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.qualifier == qualifier)


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Transaction:
    """An ST..SE set: its control number, version and what it contained."""

    control: str
    set_id: str
    version: str
    purpose: str
    transaction_type: str
    creation_date: dt.date | None
    claims: int
    service_lines: int
    envelope: Envelope
    where: Where
    trailer_count: str | None = None  # SE01 as sent; None when SE never came
    reference: str = ""  # BHT03, the originator's batch reference
    submitter: Party | None = None  # 1000A NM1*41
    receiver: Party | None = None  # 1000B NM1*40


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class FunctionalGroup:
    """A GS..GE group: the 999 answers each group separately."""

    control: str
    functional_id: str
    sender: str
    receiver: str
    date: str
    time: str
    version: str
    transactions: tuple[str, ...]
    where: Where
    interchange_control: str | None = None
    trailer_count: str | None = None  # GE01 as sent; None when GE never came


@value_methods
@attrs.frozen(slots=True, weakref_slot=False, repr=False, eq=False)
class Interchange:
    """An ISA..IEA envelope: the TA1 and the acknowledgments' own envelope come from it."""

    control: str
    sender_qualifier: str
    sender: str
    receiver_qualifier: str
    receiver: str
    date: str
    time: str
    version: str
    ack_requested: str
    usage: str
    where: Where
    element_separator: str = "*"
    component_separator: str = ":"
    repetition_separator: str | None = "^"
    segment_terminator: str = "~"
    authorization: tuple[str, str] = ("00", "")  # ISA01, ISA02
    security: tuple[str, str] = ("00", "")  # ISA03, ISA04
    trailer_count: str | None = None  # IEA01 as sent; None when IEA never came
    trailer_control: str | None = None  # IEA02 as sent
