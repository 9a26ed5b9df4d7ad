"""Turn raw bytes into X12 segments, one at a time, with the file line of each.

The tokenizer is the only stage that sees bytes. It copes with what real files
do (a UTF-8 BOM, CRLF or no line breaks at all, prose before the ISA, several
interchanges with different delimiters) and reports what it cannot read as a
located finding or an `UnreadableInput`, never a traceback. It reads in chunks
so memory stays flat however large the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

import attrs

from x12dental.findings import AckCode, Finding, Location, Severity

CHUNK = 1 << 20
ISA_LENGTH = 106
# Offsets of the element separator inside a fixed-width ISA (ISA01..ISA16).
_ISA_SEPARATORS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
_MAX_PREAMBLE = 1 << 20
_BOM = b"\xef\xbb\xbf"


class UnreadableInput(Exception):
    """The input is not X12 we can read at all (empty, binary, no ISA, no delimiters)."""

    def __init__(self, message: str, file_line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file_line = file_line


@attrs.frozen(slots=True)
class Delimiters:
    element: str
    component: str
    repetition: str | None
    segment: str


class Token:
    """One segment as read: text without its terminator, where it was, and how to split it.

    A plain slotted class, not attrs: one is made per segment, and a frozen attrs
    `__init__` (a setattr call per field) cost more than splitting the segment. Treat it
    as immutable all the same: the structural checker and the model builder share it.
    """

    __slots__ = ("_fields", "delimiters", "index", "line", "seg_id", "text")

    def __init__(
        self, seg_id: str, text: str, index: int, line: int | None, delimiters: Delimiters
    ) -> None:
        self.seg_id = seg_id
        self.text = text
        self.index = index
        self.line = line
        self.delimiters = delimiters
        self._fields: list[str] | None = None

    def _key(self) -> tuple[str, str, int, int | None, Delimiters]:
        return (self.seg_id, self.text, self.index, self.line, self.delimiters)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Token:
            return NotImplemented
        assert isinstance(other, Token)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Token(seg_id={self.seg_id!r}, text={self.text!r}, index={self.index!r}, "
            f"line={self.line!r}, delimiters={self.delimiters!r})"
        )

    def fields(self) -> list[str]:
        """The text split at the element separator, segment id first.

        Split once: the model builder and the structural checker both need it, and
        splitting was ~2% of a run each time. The list is shared, so neither may change it."""
        got = self._fields
        if got is None:
            got = self._fields = self.text.split(self.delimiters.element)
        return got

    def elements(self) -> list[str]:
        """Elements after the segment id (element 1 first): a new list, from fields()."""
        return self.fields()[1:]


FindingSink = Callable[[Finding], None]


@attrs.frozen(slots=True)
class SkippedSet:
    """The CLM and LX segments inside a transaction set the tokenizer passed over.

    pyx12 numbers LX from the last CLM, even one in an earlier set; a reader that skips a
    set still needs that count (tokenloop.Part)."""

    saw_clm: bool  # a CLM was passed over: the count restarts there
    lx_after_clm: int  # LX segments after the last CLM (after the ST when there was none)
    next_index: int  # the index of the segment read next (the set's SE, normally)


def _plain_run(joined: str, raws: list[str], term: str, lines: bool) -> int | None:
    """Whether the segments in `joined` can be read without looking at each one's spacing.

    True for the usual layouts: each terminator followed by one line break ("\\n" or
    "\\r\\n") and no other line breaks or carriage returns, or no line breaks at all.
    Then segment i sits on line `first + i` and no text holds a line break. Returns the
    line breaks before the first segment (0 or 1), or None when the layout is anything
    else (the caller then reads segment by segment).
    """
    newlines = joined.count("\n")
    if not newlines:
        return None if lines or "\r" in joined else 0
    eol = "\r\n" if "\r" in joined else "\n"
    after_term = joined.count(term + eol)
    lead = 1 if joined.startswith(eol) else 0
    if after_term != len(raws) - 1 or newlines != after_term + lead:
        return None
    if eol == "\r\n" and joined.count("\r") != newlines:
        return None
    return lead


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0D, 0x0C))
    return controls > max(8, len(head) // 20)


def _is_separator_char(ch: str) -> bool:
    return not ch.isalnum() and ch != " "


def parse_isa(text: str) -> tuple[Delimiters, int, str | None]:
    """Read the delimiters from an ISA starting at text[0].

    Returns the delimiters, the ISA's length including its terminator, and a
    problem description when the ISA is not fixed-width but could still be
    read. Raises UnreadableInput when no consistent delimiters can be found.
    """
    if len(text) < 4 or not text.startswith("ISA"):
        raise UnreadableInput("the file does not start an interchange with ISA")
    sep = text[3]
    if not _is_separator_char(sep) or sep in "\r\n":
        raise UnreadableInput(f"ISA is not followed by an element separator (found {sep!r})")
    if len(text) >= ISA_LENGTH and all(text[i] == sep for i in _ISA_SEPARATORS):
        component, terminator = text[104], text[105]
        if (
            _is_separator_char(component)
            and component != sep
            and terminator not in (sep, component)
            and not terminator.isalnum()
            and text[4:104].count(sep) == 15
        ):
            repetition = text[82] if text[84:89] >= "00501" else None
            return Delimiters(sep, component, repetition, terminator), ISA_LENGTH, None
    # Not fixed-width: find the 16th element the slow way, so we can still say what is wrong.
    count, i = 0, 3
    while count < 16:
        i = text.find(sep, i + 1) if count else 3
        if i < 0 or i > 400:
            raise UnreadableInput(
                "the ISA segment is incomplete: could not find its 16 elements, "
                "so the delimiters cannot be read"
            )
        count += 1
    if i + 2 >= len(text):
        raise UnreadableInput("the file ends inside the ISA segment")
    component, terminator = text[i + 1], text[i + 2]
    if (
        not _is_separator_char(component)
        or component == sep
        or terminator in (sep, component)
        or terminator.isalnum()
    ):
        raise UnreadableInput(
            "could not read the component separator (ISA16) and segment terminator "
            "from the ISA segment"
        )
    fields = text[: i + 1].split(sep)
    repetition = fields[11][:1] if len(fields) > 12 and fields[12] >= "00501" else None
    length = i + 3
    problem = (
        f"the ISA segment is {length} characters long; it must be exactly {ISA_LENGTH} "
        "(every ISA element padded to its fixed width)"
    )
    return Delimiters(sep, component, repetition, terminator), length, problem


def _last_segment(buf: str, seg_id: str, term: str, lo: int, hi: int) -> int:
    r"""Where in buf[lo:hi] the last segment with id `seg_id` (written with its element
    separator) has it, or -1. A segment starts at a terminator at lo or after, then
    blanks, as the pattern `term\s*ID*` finds it: str.isspace is what \s matches in a
    str pattern."""
    pos = buf.rfind(seg_id, lo, hi)
    while pos >= 0:
        q = pos
        while q > lo and buf[q - 1] != term and buf[q - 1].isspace():
            q -= 1
        if q > lo and buf[q - 1] == term:
            return pos
        pos = buf.rfind(seg_id, lo, pos)  # the text of a value, not a segment id
    return -1


class Tokenizer:
    """Iterate the segments of one input, reporting reading problems to `sink`."""

    def __init__(self, stream: BinaryIO, sink: FindingSink) -> None:
        self._stream = stream
        self._sink = sink
        self._buf = ""
        self._eof = False
        self.has_line_breaks = False
        self.delimiters: Delimiters | None = None
        # Set by a reader that wants only the ST and SE of some transaction sets (tokenloop.Part):
        # skip(k) True = the segments inside set k (0-based, file order) may be passed over.
        self.skip: Callable[[int], bool] | None = None
        self._sets = 0  # ST segments read so far
        # What was passed over inside the last set skipped (see SkippedSet); it is about
        # the segment read next when that segment's index is its next_index.
        self.skipped: SkippedSet | None = None

    def _read(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(CHUNK)
        if not data:
            self._eof = True
            return False
        self._buf += data.decode("latin-1")
        return True

    def _start(self) -> int:
        """Find the first ISA; return its offset in the buffer."""
        head = self._stream.read(CHUNK)
        if not head:
            raise UnreadableInput("the file is empty")
        if head.startswith(_BOM):
            head = head[len(_BOM) :]
        if _looks_binary(head[:4096]):
            raise UnreadableInput("the file is binary, not X12 text")
        self._buf = head.decode("latin-1")
        while True:
            at = self._find_isa(self._buf)
            if at >= 0 and len(self._buf) - at >= ISA_LENGTH + 1:
                break
            if len(self._buf) > _MAX_PREAMBLE or not self._read():
                if at < 0:
                    raise UnreadableInput(
                        "no ISA segment found: this is not an X12 file (an 837 starts with ISA)"
                    )
                break
        if self._buf[:at].strip():
            lines = self._buf.count("\n", 0, at)
            self._sink(
                Finding(
                    rule="x12.envelope.text-before-isa",
                    severity=Severity.WARNING,
                    snip=1,
                    message=(
                        f"{lines + 1 if lines else 1} line(s) of text before the ISA segment "
                        "were skipped; many payers reject a file that does not start with ISA"
                    ),
                    hint="Send the file starting with the ISA segment.",
                    location=Location(segment_id="ISA", file_line=lines + 1),
                )
            )
        self.has_line_breaks = "\n" in self._buf[at:]
        return at

    @staticmethod
    def _find_isa(text: str, start: int = 0) -> int:
        i = text.find("ISA", start)
        while i >= 0:
            nxt = text[i + 3 : i + 4]
            prev = text[i - 1 : i] if i else ""
            if nxt and _is_separator_char(nxt) and (not prev or not prev.isalnum()):
                return i
            i = text.find("ISA", i + 1)
        return -1

    def _isa_at(self, at: int, line: int | None) -> Delimiters:
        while len(self._buf) - at < 512 and self._read():
            pass
        delims, _length, problem = parse_isa(self._buf[at:])
        if problem:
            self._sink(
                Finding(
                    rule="x12.envelope.isa-length",
                    severity=Severity.ERROR,
                    snip=1,
                    message=problem,
                    hint="Pad ISA02, ISA04, ISA06 and ISA08 with spaces to 10, 10, 15 and 15 characters.",
                    location=Location(segment_id="ISA", file_line=line),
                    ack=AckCode(level="isa", code="024"),
                )
            )
        self.delimiters = delims
        return delims

    def __iter__(self) -> Iterator[Token]:
        at = self._start()
        line_no = 1 + self._buf.count("\n", 0, at)
        delims = self._isa_at(at, line_no if self.has_line_breaks else None)
        pos = at
        index = 0
        after_iea = False
        while True:
            if after_iea:
                # A new interchange may bring new delimiters: read them from its own ISA.
                after_iea = False
                while len(self._buf) - pos < 16 and self._read():
                    pass
                rest = self._buf[pos : pos + 4096]
                start = len(rest) - len(rest.lstrip())
                if rest[start : start + 3] == "ISA":
                    line_no += rest.count("\n", 0, start)
                    pos += start
                    delims = self._isa_at(pos, line_no if self.has_line_breaks else None)
            # Split every complete segment in the buffer at once; the per-segment work
            # below is the same as reading them one by one.
            buf = self._buf
            term = delims.segment
            last = buf.rfind(term, pos)
            if last < 0:
                if self._read():
                    continue
                self._truncated(buf[pos:], line_no, delims)
                return
            sep = delims.element
            lines = self.has_line_breaks
            newline_terminated = term == "\n"
            joined = buf[pos:last]
            raws = joined.split(term)
            fast = None if term in "\r\n" else _plain_run(joined, raws, term, lines)
            if fast is not None:
                # The usual file: every segment on its own line (or no line breaks at all).
                texts = [raw.lstrip() for raw in raws]
                if all(texts):
                    ids = [text.partition(sep)[0] for text in texts]
                    n = len(texts)
                    iea = ids.index("IEA") if "IEA" in ids else -1
                    skip_after = self._first_skipped(ids, iea)
                    if skip_after >= 0:
                        n = skip_after + 1
                        pos += sum(map(len, raws[:n])) + n
                        del texts[n:], ids[n:]
                    elif iea >= 0:
                        n = iea + 1
                        after_iea = True
                        pos += sum(map(len, raws[:n])) + n
                        del texts[n:], ids[n:]
                    else:
                        pos = last + 1
                    first = line_no + fast
                    if lines:
                        line_no = first + n - 1
                    # One yield per token from this loop, not `yield from map(Token, ...)`:
                    # compiled, the loop calls Token's native constructor directly, where
                    # map went through the generic call path (~1,000 instructions less a
                    # segment); as Python source the two cost about the same.
                    base = index + 1
                    if lines:
                        for i in range(n):
                            yield Token(ids[i], texts[i], base + i, first + i, delims)
                    else:
                        for i in range(n):
                            yield Token(ids[i], texts[i], base + i, None, delims)
                    index += n
                    if skip_after >= 0:
                        pos, lines_passed, segments, clm, lx = self._pass_over(pos - 1, delims)
                        if lines:
                            line_no += lines_passed
                        index += segments
                        self.skipped = SkippedSet(clm, lx, index + 1)
                    if pos > CHUNK:
                        self._buf = self._buf[pos:]
                        pos = 0
                    continue
            for raw in raws:
                pos += len(raw) + 1
                text = raw.lstrip()
                if lines:
                    lead = len(raw) - len(text)
                    if lead:
                        line_no += raw.count("\n", 0, lead)
                    seg_line: int | None = line_no
                    if "\n" in text:
                        line_no += text.count("\n")
                else:
                    seg_line = None
                if newline_terminated:
                    line_no += 1
                if text:
                    index += 1
                    if text[-1] in "\r\n":
                        text = text.rstrip("\r\n")
                    seg_id = text.split(sep, 1)[0]
                    if seg_id == "ST":
                        self._sets += 1  # read in full: the fast path alone skips
                    yield Token(seg_id, text, index, seg_line, delims)
                    if seg_id == "IEA":
                        after_iea = True
                        break
            if pos > CHUNK:
                self._buf = self._buf[pos:]
                pos = 0

    def _first_skipped(self, ids: list[str], end: int) -> int:
        """Index in ids[:end + 1] (all of ids when end < 0) of the first ST whose set may
        be passed over, or -1; counts the sets it reads."""
        stop = end + 1 if end >= 0 else len(ids)
        skip = self.skip
        at = -1
        while True:
            try:
                at = ids.index("ST", at + 1, stop)
            except ValueError:
                return -1
            k = self._sets
            self._sets += 1
            if skip is not None and skip(k):
                return at

    def _pass_over(self, at: int, delims: Delimiters) -> tuple[int, int, int, bool, int]:
        """Pass over the segments after the ST whose terminator is at self._buf[at], up to
        the next SE (or envelope segment): returns the buffer offset just after the last
        terminator passed, the line breaks and segments passed, and whether a CLM was
        passed and the LX after the last one (see SkippedSet).

        Why it is exact: a segment's index counts the non-empty segments before it and its
        line the line breaks before it; both are counted here without splitting anything.
        Reads on (in chunks, dropping what it has passed) when the set is longer than the
        buffer, so memory stays flat."""
        term = delims.segment
        t = re.escape(term)
        ele = re.escape(delims.element)
        # One scan finds both the empty segments (a terminator, blanks, a terminator: not
        # counted) and the segment that ends the pass. The CLM and LX counts are read from
        # the last CLM on: a scan for every CLM and LX of the set cost more than the rest
        # of the pass together (~5,000 claims in each half of the 10k-claim benchmark file).
        scan = re.compile(t + r"\s*(?:(?=" + t + r")|((?:SE|ST|GS|GE|IEA|ISA)" + ele + "))")
        lx_starts = re.compile(t + r"\s*LX" + ele)
        clm_id = "CLM" + delims.element
        lines = segments = lx = 0
        clm = False
        while True:
            buf = self._buf
            empties = 0
            m = scan.search(buf, at)
            while m is not None and m.group(1) is None:
                empties += 1
                m = scan.search(buf, m.end())
            end = m.start() if m is not None else buf.rfind(term)
            if end > at:
                lines += buf.count("\n", at, end)
                segments += buf.count(term, at, end) - empties
                last = _last_segment(buf, clm_id, term, at, end)
                if last >= 0:
                    clm = True
                    lx = sum(1 for _ in lx_starts.finditer(buf, last, end))
                else:
                    lx += sum(1 for _ in lx_starts.finditer(buf, at, end))
                at = end
            if m is not None or not self._read():
                break
            if at > CHUNK:
                self._buf = self._buf[at:]
                at = 0
        return at + 1, lines, segments, clm, lx

    def _truncated(self, rest: str, line_no: int, delims: Delimiters) -> None:
        if not rest.strip():
            return
        stripped = rest.lstrip()
        line_no += rest.count("\n", 0, len(rest) - len(stripped))
        seg_id = stripped.split(delims.element, 1)[0][:3]
        self._sink(
            Finding(
                rule="x12.envelope.truncated",
                severity=Severity.ERROR,
                snip=1,
                message=(
                    f"the file ends in the middle of a segment ({seg_id!r} has no "
                    f"segment terminator {delims.segment!r}); the file is truncated"
                ),
                hint="Resend the complete file; it was cut off in transfer or when written.",
                location=Location(
                    segment_id=seg_id or None,
                    file_line=line_no if self.has_line_breaks else None,
                ),
                ack=AckCode(level="isa", code="023"),
            )
        )
