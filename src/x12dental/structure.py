"""SNIP 1-2: structural validation with pyx12's walker and our 837D map.

pyx12 knows the X12 rules well, so it is the engine here; but its own driver
(`x12n_document`) reads files itself, logs bad values and keeps every error in
a tree until the end. We drive its pieces (reader checks, map walker, segment
validation) one token at a time from our tokenizer instead, and turn each error
into a located Finding the moment pyx12 raises it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.segment
import pyx12.x12file
from pyx12.map_if._segment import apply_segment_errors
from pyx12.map_walker import apply_walk_errors, walk_tree

from x12dental import messages, parsecache
from x12dental.findings import AckCode, ClaimContext, Finding, Location, Severity
from x12dental.mapfolder import DENTAL_VERSIONS, PREFERRED_VERSION, map_folder
from x12dental.tokenizer import Delimiters, Token

# pyx12 logs every error with the bad value in it: values are PHI, so it stays silent.
logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)
logging.getLogger("pyx12").propagate = False

_MAPS: dict[str, Any] = {}
_WRAPPERS = frozenset({"HEADER", "DETAIL", "FOOTER"})
_WRONG_SEPARATOR = re.compile(r"^([A-Z][A-Z0-9]{1,2})([^A-Za-z0-9 ])")
_PARAM = pyx12.params.params()


def _load_map(name: str, folder: str) -> Any:
    """Maps take a second or more to load; every file of the run shares one copy."""
    key = folder + "/" + name
    if key not in _MAPS:
        _MAPS[key] = parsecache.load_cached(
            folder, name, lambda: pyx12.map_if.load_map_file(name, _PARAM, folder)
        )
    return _MAPS[key]


FindingSink = Callable[[Finding], None]
ContextFn = Callable[[], ClaimContext]


class _ErrorSink:
    """Stands in for pyx12's err_handler: same calls, but each error becomes a Finding at once."""

    def __init__(self, checker: StructuralChecker) -> None:
        self._checker = checker
        self._seg_id: str | None = None
        self._seg_name = ""
        self._seg_loop = ""
        self._seg_count: int | None = None
        self._ele: Any = None
        self.suppress_unrecognized = False

    # cursor calls ----------------------------------------------------------
    def add_isa_loop(self, seg: Any, src: Any) -> None:
        self._set_seg("ISA", None, None)

    def add_gs_loop(self, seg: Any, src: Any) -> None:
        self._set_seg("GS", None, None)

    def add_st_loop(self, seg: Any, src: Any) -> None:
        self._set_seg("ST", None, 1)

    def add_seg(self, map_node: Any, seg: Any, seg_count: int, cur_line: int, ls_id: Any) -> None:
        self._set_seg(seg.get_seg_id(), map_node, seg_count)

    def _set_seg(self, seg_id: str | None, node: Any, seg_count: int | None) -> None:
        self._seg_id = seg_id
        self._seg_count = seg_count
        self._seg_name = getattr(node, "name", "") or ""
        parent = node.get_parent() if node is not None else None
        self._seg_loop = getattr(parent, "id", "") or ""
        self._ele = None

    def add_ele(self, map_node: Any) -> None:
        self._ele = map_node

    def handle_errors(self, err_list: list[tuple[str, str, str, Any, int | None]]) -> None:
        for kind, code, text, value, _line in err_list:
            if kind == "isa":
                self.isa_error(code, text)
            elif kind == "gs":
                self.gs_error(code, text)
            elif kind == "st":
                self.st_error(code, text)
            else:
                self.seg_error(code, text, value)

    # errors ----------------------------------------------------------------
    def isa_error(self, code: str, text: str) -> None:
        seg = "IEA" if self._checker.current == "IEA" or code == "023" else "ISA"
        self._checker.emit("isa", code, text, None, segment_id=seg, position=None)

    def gs_error(self, code: str, text: str) -> None:
        seg = "GE" if self._checker.current == "GE" or code == "3" else "GS"
        self._checker.emit("gs", code, text, None, segment_id=seg, position=None)

    def st_error(self, code: str, text: str) -> None:
        at_se = self._checker.current == "SE"
        missing = code == "2"
        self._checker.emit(
            "st",
            code,
            text,
            None,
            segment_id="SE" if at_se or missing else "ST",
            position=self._checker.position if at_se else None if missing else 1,
        )

    def seg_error(
        self, code: str, text: str, value: str | None = None, src_line: int | None = None
    ) -> None:
        if code in ("1", "8") and self.suppress_unrecognized:
            return
        self._checker.emit(
            "seg",
            code,
            text,
            value,
            segment_id=self._seg_id,
            position=self._seg_count,
            segment_name=self._seg_name,
            loop=self._seg_loop,
        )

    def ele_error(self, code: str, text: str, value: str | None, refdes: str | None = None) -> None:
        self._checker.emit(
            "ele",
            code,
            text,
            value,
            segment_id=self._seg_id,
            position=self._seg_count,
            segment_name=self._seg_name,
            loop=self._seg_loop,
            element=self._ele,
            refdes=refdes,
        )

    # closing calls: nothing to keep --------------------------------------------
    def close_isa_loop(self, node: Any, seg: Any, src: Any) -> None:
        return None

    def close_gs_loop(self, node: Any, seg: Any, src: Any) -> None:
        return None

    def close_st_loop(self, node: Any, seg: Any, src: Any) -> None:
        return None


class StructuralChecker:
    """Validate one input's segments against the X12 standard and the 837D TR3 (SNIP 1-2)."""

    def __init__(
        self, sink: FindingSink, context: ContextFn, accepted_versions: tuple[str, ...] = ()
    ) -> None:
        self._accepted = accepted_versions
        self._sink = sink
        self._context = context
        self._folder = str(map_folder())
        self._index = pyx12.map_index.map_index(self._folder)
        self._walker = walk_tree()
        self._errh = _ErrorSink(self)
        reader = pyx12.x12file.X12Reader.__new__(pyx12.x12file.X12Reader)
        pyx12.x12file.X12Base.__init__(reader)
        self._reader = reader
        self._delims: Delimiters | None = None  # the tokens whose separators `reader` has
        self._control: Any = None
        self._map: Any = None
        self._map_name: str | None = None
        self._node: Any = None
        self._icvn = ""
        self._skip = (
            False  # inside an interchange or group we do not validate (unsupported version)
        )
        self._gs_version = ""
        self._line: int | None = None
        self._isa_control: str | None = None
        self._gs_control: str | None = None
        self._st_control: str | None = None
        self.versions_seen: set[str] = set()
        self.current = ""
        self.position: int | None = None
        self._previous = ""
        self._sv3_missing_reported = False

    @property
    def checking(self) -> bool:
        """False inside an interchange or group we do not check (not 5010, not 837D)."""
        return not self._skip and self._control is not None

    # -- reporting ---------------------------------------------------------------

    def emit(
        self,
        level: str,
        code: str,
        text: str,
        value: str | None,
        *,
        segment_id: str | None,
        position: int | None,
        segment_name: str = "",
        loop: str = "",
        element: Any = None,
        refdes: str | None = None,
    ) -> None:
        if level == "seg" and code == "3" and segment_id == "SV3":
            self._sv3_missing_reported = True
        ctx = self._context() if level in ("seg", "ele") else ClaimContext()
        described = messages.describe(
            level, code, text, value, segment_id, segment_name, loop, element, refdes
        )
        ack = AckCode(
            level=level,
            code=described.ack_code,
            element_position=described.element_position,
            component_position=described.component_position,
            data_element=getattr(element, "data_ele", None),
            bad_value=value,
            loop_id=loop if loop and not loop.endswith("_LOOP") and loop not in _WRAPPERS else None,
        )
        self._sink(
            Finding(
                rule=described.rule,
                severity=Severity.ERROR,
                snip=described.snip,
                message=described.message,
                hint=described.hint,
                location=Location(
                    segment_id=segment_id,
                    segment_position=position,
                    file_line=self._line,
                    interchange_control=self._isa_control,
                    group_control=self._gs_control if level != "isa" else None,
                    transaction_control=self._st_control if level in ("st", "seg", "ele") else None,
                ),
                element=described.element,
                claim_id=ctx.claim_id,
                line=int(ctx.line) if ctx.line and ctx.line.isdigit() else None,
                procedure=ctx.procedure,
                ack=ack,
            )
        )

    def _own(
        self,
        rule: str,
        severity: Severity,
        snip: int,
        message: str,
        hint: str,
        segment_id: str,
        element: str | None,
        ack: AckCode | None,
    ) -> None:
        self._sink(
            Finding(
                rule=rule,
                severity=severity,
                snip=snip,
                message=message,
                hint=hint,
                location=Location(
                    segment_id=segment_id,
                    segment_position=1 if segment_id == "ST" else None,
                    file_line=self._line,
                    interchange_control=self._isa_control,
                    group_control=self._gs_control if segment_id != "ISA" else None,
                    transaction_control=self._st_control if segment_id == "ST" else None,
                ),
                element=element,
                ack=ack,
            )
        )

    # -- feeding -------------------------------------------------------------------

    def feed(self, tok: Token) -> None:
        self._line = tok.line
        seg_id = tok.seg_id
        self.current = seg_id
        if seg_id == "ST":
            self.position = 1
        elif self.position is not None:
            self.position += 1
        if seg_id in ("GE", "IEA"):
            self._st_control = None
            if seg_id == "IEA":
                self._gs_control = None
        elif self.current in ("GE",) and seg_id != "GS":
            self._gs_control = None  # a stray segment after GE belongs to no group
        if seg_id == "ISA":
            self._start_interchange(tok)
        elif seg_id == "GS":
            self._isa_gs_check(tok)
        elif seg_id == "ST":
            self._st_control = tok.elements()[1] if len(tok.elements()) > 1 else None
            if not self._skip:
                self._check_st_version(tok)
        if self._skip or self._control is None:
            if seg_id == "IEA":
                self._skip = False
            if self._control is not None and seg_id in ("GS", "ST", "SE", "GE"):
                self._count_skipped(tok)
            return
        self._sv3_missing_reported = False
        self._validate(tok)
        if self._previous == "LX" and seg_id != "SV3" and not self._sv3_missing_reported:
            # pyx12 lets an LX without its SV3 pass when another LX follows: the line
            # would reach the payer with no procedure at all.
            self.emit(
                "seg",
                "3",
                "Mandatory segment SV3 missing",
                None,
                segment_id="SV3",
                position=self.position,
                segment_name="Dental Service",
                loop="2400",
            )
        self._previous = seg_id

    def _count_skipped(self, tok: Token) -> None:
        """A group we do not check still counts in GE01/IEA01: keep pyx12's counters right."""
        r = self._reader
        seg = pyx12.segment.Segment(tok.text, r.seg_term, r.ele_term, r.subele_term)
        # The group is not checked: its envelope errors are not ours to report.
        with contextlib.suppress(pyx12.errors.X12Error, IndexError):
            r._parse_segment(seg)
        r.pop_errors()
        if tok.seg_id == "GS":
            self._walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
        if tok.seg_id == "GE":
            self._skip = False
            self._node = self._control.getnodebypath("/ISA_LOOP/GS_LOOP/GE")

    def _start_interchange(self, tok: Token) -> None:
        el = tok.elements()
        self._isa_control = el[12].strip() if len(el) > 12 else None
        self._gs_control = self._st_control = None
        icvn = el[11] if len(el) > 11 else ""
        self._icvn = icvn
        d = tok.delimiters
        r = self._reader
        r.seg_term, r.ele_term, r.subele_term = d.segment, d.element, d.component
        self._delims = d
        r.repetition_term = d.repetition
        r.icvn = icvn
        if icvn != "00501":
            self._skip = True
            self._own(
                "x12.envelope.version-unsupported",
                Severity.ERROR,
                1,
                f"interchange version ISA12 {icvn!r} is not supported: x12dental checks HIPAA "
                "5010 (ISA12 00501) dental claims only; this file looks like "
                + ("4010" if icvn == "00401" else "another X12 version"),
                "Send the claims as 5010 837D (ISA12 00501, GS08 005010X224A2).",
                "ISA",
                "ISA12",
                AckCode(level="isa", code="017"),
            )
            return
        self._skip = False
        self._control = _load_map("x12.control.00501.xml", self._folder)
        if self._map is None:
            self._map = self._control

    def _isa_gs_check(self, tok: Token) -> None:
        el = tok.elements()
        self._gs_control = el[5] if len(el) > 5 else None
        self._st_control = None
        if self._icvn != "00501":
            return
        version = el[7] if len(el) > 7 else ""
        fic = el[0] if el else ""
        self._gs_version = version
        if version not in DENTAL_VERSIONS:
            self._skip = True
            self._own(
                "x12.envelope.not-837d",
                Severity.ERROR,
                2,
                f"functional group GS01 {fic!r} / GS08 {version!r} is not an 837 Dental group: "
                f"x12dental checks 837D (GS01 HC, GS08 {PREFERRED_VERSION}); the group was not checked",
                "Send dental claims with GS01 HC and GS08 005010X224A2.",
                "GS",
                "GS08",
                AckCode(level="gs", code="2"),
            )
            return
        self._skip = False
        self.versions_seen.add(version)
        if self._accepted and version not in self._accepted:
            self._own(
                "payer.version-not-accepted",
                Severity.ERROR,
                7,
                f"GS08 is {version}; this payer accepts only {', '.join(self._accepted)}",
                f"Send the claims as {self._accepted[0]}.",
                "GS",
                "GS08",
                AckCode(level="gs", code="2"),
            )
        elif version != PREFERRED_VERSION and not self._accepted:
            self._own(
                "x12.envelope.version-not-preferred",
                Severity.WARNING,
                2,
                f"GS08 is {version}; the HIPAA-named version payers take is {PREFERRED_VERSION}. "
                "The claims were checked with the 005010X224A2 guide",
                f"Ask your software vendor to send {PREFERRED_VERSION}.",
                "GS",
                "GS08",
                None,
            )

    def _check_st_version(self, tok: Token) -> None:
        el = tok.elements()
        st03 = el[2] if len(el) > 2 else ""
        if st03 and st03 in DENTAL_VERSIONS and st03 != self._gs_version:
            self._own(
                "x12.envelope.version-mismatch",
                Severity.ERROR,
                2,
                f"ST03 {st03!r} does not match GS08 {self._gs_version!r}; "
                "the transaction set and its group must name the same guide",
                "Make ST03 equal to GS08.",
                "ST",
                "ST03",
                AckCode(level="st", code="19"),
            )

    def _wrong_delimiter(self, tok: Token) -> bool:
        """A segment written with another separator (`DTP|472|...`): say so in plain words."""
        found = _WRONG_SEPARATOR.match(tok.seg_id)
        if found is None:
            return False
        seg, used = found.group(1), found.group(2)
        ctx = self._context()
        self._sink(
            Finding(
                rule="x12.segment.wrong-delimiter",
                severity=Severity.ERROR,
                snip=1,
                message=(
                    f"segment {seg} uses {used!r} between its elements, but this interchange's "
                    f"element separator (from the ISA) is {tok.delimiters.element!r}; the whole "
                    "segment cannot be read"
                ),
                hint="Write every segment with the delimiters the ISA declares.",
                location=Location(
                    segment_id=seg,
                    segment_position=self.position,
                    file_line=tok.line,
                    interchange_control=self._isa_control,
                    group_control=self._gs_control,
                    transaction_control=self._st_control,
                ),
                claim_id=ctx.claim_id,
                line=int(ctx.line) if ctx.line and ctx.line.isdigit() else None,
                procedure=ctx.procedure,
                ack=AckCode(level="seg", code="1"),
            )
        )
        return True

    def _validate(self, tok: Token) -> None:
        r = self._reader
        text = tok.text
        self._errh.suppress_unrecognized = self._wrong_delimiter(tok)
        if text.endswith(r.ele_term):
            r._seg_error(
                "SEG1", "Segment contains trailing element terminators", None, r.cur_line + 1
            )
        seg = pyx12.segment.Segment(text, r.seg_term, r.ele_term, r.subele_term)
        try:
            r._parse_segment(seg)
        except (
            pyx12.errors.X12Error,
            IndexError,
        ) as exc:  # IndexError: a trailer with no open header
            r._isa_error("024", str(exc))
        seg_id = seg.get_seg_id()
        errh = self._errh
        walker = self._walker
        orig = self._node
        node: Any
        if seg_id == "ISA":
            node = self._control.getnodebypath("/ISA_LOOP/ISA")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP", "/ISA_LOOP/ISA")
        elif seg_id == "GS":
            node = self._control.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
        else:
            if orig is None:
                return
            try:
                # pyx12 does not count SE in seg_count until the trailer check, so a segment
                # found missing at SE would be placed on the segment before it; use SE's own.
                count = r.get_seg_count() + (1 if seg_id == "SE" else 0)
                node, _pop, _push, walk_errors = walker.walk_errors(
                    orig, seg, count, r.get_cur_line(), r.get_ls_id()
                )
            except pyx12.errors.EngineError as exc:
                errh.add_seg(None, seg, r.get_seg_count(), r.get_cur_line(), None)
                errh.seg_error("2", f"Segment not expected here ({exc})")
                errh.handle_errors(r.pop_errors())
                return
            apply_walk_errors(errh, walk_errors)
        if node is None:
            self._node = orig
            errh.handle_errors(r.pop_errors())
            return
        if seg_id == "ISA":
            errh.add_isa_loop(seg, r)
            errh.handle_errors(r.pop_errors())
        elif seg_id == "GS":
            # Look the map up as HC even when GS01 is wrong: GS01 is then reported, not fatal.
            name = self._index.get_filename(self._icvn, seg.get_value("GS08"), "HC")
            if name and name != self._map_name:
                self._map = _load_map(name, self._folder)
                self._map_name = name
                r.check_837_lx = self._map.id == "837"
            node = self._map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            errh.add_gs_loop(seg, r)
            errh.handle_errors(r.pop_errors())
        elif seg_id == "ST":
            errh.add_st_loop(seg, r)
            errh.handle_errors(r.pop_errors())
        else:
            errh.add_seg(node, seg, r.get_seg_count(), r.get_cur_line(), r.get_ls_id())
            errh.handle_errors(r.pop_errors())
        apply_segment_errors(node, seg, errh)
        self._node = node
        if seg_id == "SE":
            self._st_control = None
            self.position = None

    def finish(self) -> None:
        """End of input: report the trailers (SE, GE, IEA) that never came."""
        if self._control is None:
            return
        self._reader.cleanup()
        self._errh.handle_errors(self._reader.pop_errors())
