"""The claim-history store: what earlier batches billed, so rules can look back across files.

Some denials only show across batches: D6011 sent this week for an implant whose D6010 went
out last month on the same day; the same batch uploaded twice; a lifetime limit per tooth
reached over several files. `--history DB` keeps, per patient, the service lines of every
checked claim in one SQLite file that the rules read (`engine.History`) and that each
checked file updates.

Privacy. No plain identifier is stored. A patient is HMAC-SHA256(salt, engine.patient_key)
(the engine key is itself a hash of payer, member id, name and birth date); the claim id
(CLM01, which practice systems often build from account numbers or names), the claim's
content hash and the file name are HMACs too. The salt is random per store, lives in the
store's meta table and is never exported, so hashes from two stores or from an export cannot
be joined or looked up in a precomputed table. Whoever holds the store file holds the salt:
it protects exports and other stores, not a stolen store against a targeted guess. What stays
readable is what the rules need: procedure codes, teeth, surfaces, dates of service.

Concurrency and faults. WAL mode: readers never wait for a writer. Each file is recorded in
ONE short write transaction (BEGIN IMMEDIATE) once the file is checked; a busy store is
waited for (busy_timeout) and retried until `timeout`, never reported as "database is locked".
A process killed while recording leaves nothing of its file: the transaction never commits
and SQLite discards it when the store is next opened. A damaged store, another program's
database or a store written by a newer x12dental raises HistoryError with a message for
people, never a traceback.

Schema. `PRAGMA user_version` is the schema version and `PRAGMA application_id` marks the file
as ours; MIGRATIONS[n] takes a store from version n-1 to n, all in one transaction on open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs

from x12dental import model as m
from x12dental.claimidentity import (
    ContentKey,
    _day,
    claim_content_hash,
    claim_content_key,
    content_key_hash,
)
from x12dental.engine import ServiceRecord, StoreError, patient_key, services_of
from x12dental.findings import Finding, Severity

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_TIMEOUT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ContentKey",
    "FileRecorder",
    "ForgetResult",
    "HistoryError",
    "HistoryStore",
    "RecordedFile",
    "StoreStats",
    "claim_content_hash",
    "claim_content_key",
    "content_key_hash",
    "open_history",
    "rejected_claims",
]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x58313244  # "X12D": tells our store from any other SQLite file
DEFAULT_TIMEOUT = 120.0  # seconds a writer waits for a busy store before giving up
_BUSY_TIMEOUT = 5.0  # SQLite's own wait per attempt; the retry loop covers the rest

# MIGRATIONS[n]: the statements that take a store from schema n-1 to n.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        # One row per recorded file: name_hash = HMAC of the name as given, digest = HMAC of
        # the content digest when the caller had one. seen_on (YYYYMMDD) is the run's "today":
        # the duplicate window and `history forget` count from it.
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            name_hash BLOB NOT NULL,
            digest BLOB,
            seen_on INTEGER NOT NULL,
            recorded_at TEXT NOT NULL,
            claims INTEGER NOT NULL,
            rejected INTEGER NOT NULL)""",
        "CREATE INDEX files_seen ON files (seen_on)",
        # One row per claim. patient, claim_key (CLM01) and content are 16-byte HMACs.
        # rejected: the claim had an error finding (or its transaction set was rejected), so
        # its services were not rendered as far as payers know. superseded_by: a later
        # replacement (CLM05-3 = 7) or void (8) of the same CLM01 for the same patient.
        """CREATE TABLE claims (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files (id),
            patient BLOB NOT NULL,
            claim_key BLOB NOT NULL,
            content BLOB NOT NULL,
            frequency TEXT NOT NULL,
            rejected INTEGER NOT NULL,
            superseded_by INTEGER,
            seen_on INTEGER NOT NULL)""",
        "CREATE INDEX claims_patient ON claims (patient, claim_key)",
        "CREATE INDEX claims_content ON claims (content, seen_on)",
        "CREATE INDEX claims_file ON claims (file_id)",
        # One row per tooth of a line (one row with tooth NULL for a line without teeth),
        # as engine.services_of gives them. service_date is YYYYMMDD or NULL.
        """CREATE TABLE services (
            claim INTEGER NOT NULL REFERENCES claims (id),
            line INTEGER,
            code TEXT NOT NULL,
            tooth TEXT,
            surfaces TEXT NOT NULL,
            service_date INTEGER)""",
        "CREATE INDEX services_claim ON services (claim)",
    ),
}

T = TypeVar("T")


class HistoryError(StoreError):
    """The store cannot be used (damaged, newer, locked for too long, not writable).

    The message is for people and names the store's path, never claim data; the command
    line prints it and exits 2.
    """


# -- which claims of a checked file count as rejected --------------------------------------

_Env = tuple[str | None, str | None, str | None]


def rejected_claims(
    findings: Iterable[Finding], claims: Iterable[tuple[m.Envelope, str]]
) -> list[bool]:
    """For each (envelope, CLM01): was the claim rejected by this file's findings?

    A claim is rejected when an error finding names it (its CLM01 in its transaction set),
    or when a SNIP 1-2 error rejects its transaction set in the 999 (located in the set),
    its group or interchange (located there without a transaction), or the whole file (no
    envelope at all). Severities are the final ones, after the rule packs re-graded.
    """
    by_claim: set[tuple[str | None, str | None, str | None, str]] = set()
    sets: set[_Env] = set()
    groups: set[tuple[str | None, str | None]] = set()
    interchanges: set[str | None] = set()
    whole_file = False
    for f in findings:
        if f.severity is not Severity.ERROR:
            continue
        loc = f.location
        isa, gs, st = loc.interchange_control, loc.group_control, loc.transaction_control
        if f.claim_id is not None:
            by_claim.add((isa, gs, st, f.claim_id))
        if f.snip <= 2:
            if st is not None:
                sets.add((isa, gs, st))
            elif gs is not None:
                groups.add((isa, gs))
            elif isa is not None:
                interchanges.add(isa)
            else:
                whole_file = True
    out = []
    for env, claim_id in claims:
        isa, gs, st = env.interchange_control, env.group_control, env.transaction_control
        out.append(
            whole_file
            or (isa, gs, st, claim_id) in by_claim
            or (isa, gs, st) in sets
            or (isa, gs) in groups
            or isa in interchanges
        )
    return out


# -- results -------------------------------------------------------------------------------


@attrs.frozen
class RecordedFile:
    """What one commit wrote."""

    file_id: int
    claims: int
    rejected: int
    services: int


@attrs.frozen
class ForgetResult:
    files: int
    claims: int
    services: int


@attrs.frozen
class StoreStats:
    """`x12dental history stats`: counts only, nothing that identifies anyone."""

    path: str
    schema_version: int
    created: str
    files: int
    claims: int
    rejected_claims: int
    superseded_claims: int
    services: int
    patients: int
    first_seen: dt.date | None
    last_seen: dt.date | None
    size_bytes: int

    def to_json(self) -> dict[str, object]:
        out = attrs.asdict(self)
        out["first_seen"] = _day(self.first_seen) or None
        out["last_seen"] = _day(self.last_seen) or None
        return out


@attrs.frozen(slots=True)
class _PendingClaim:
    """A checked claim waiting for the file's verdict: hashes and services only."""

    envelope: m.Envelope
    claim_id: str
    patient: str
    content: str
    frequency: str
    services: tuple[tuple[int | None, str, str | None, str, int | None], ...]


def _ymd(day: dt.date | None) -> int | None:
    return day.year * 10000 + day.month * 100 + day.day if day is not None else None


def _date(value: int | None) -> dt.date | None:
    if value is None:
        return None
    return dt.date(value // 10000, value // 100 % 100, value % 100)


# -- the store -----------------------------------------------------------------------------


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class HistoryStore:
    """The SQLite claim history: `engine.History` for the rules, `begin_file` to record.

    One connection per object (per process: a store sent to a worker process reopens there).
    Thread-safe: one lock serialises the connection's use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._create = create
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise HistoryError(f"the history store {self.path} is a directory, not a file")
        new = not self.path.exists()
        if new and not create:
            raise HistoryError(f"there is no history store at {self.path}")
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=_BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if new:  # hashes of patients are still about patients: owner only (the log files follow)
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        try:
            self._salt = self._retrying(self._open)
        except BaseException:
            self._conn.close()
            raise

    # -- opening and migrating ---------------------------------------------------------

    def _open(self) -> bytes:
        conn = self._conn
        version = self._check_identity()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise HistoryError(
                f"the history store {self.path} cannot use SQLite's WAL mode (journal mode "
                f"{mode}); keep it on a local disk"
            )
        conn.execute("PRAGMA synchronous = FULL")
        if version < SCHEMA_VERSION:
            self._transaction(self._migrate)
        row = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
        if row is None:
            raise HistoryError(
                f"the history store {self.path} is damaged (its salt is missing); move it "
                "away (a new store starts empty) or restore it from a backup"
            )
        return bytes.fromhex(str(row[0]))

    def _identity(self) -> tuple[int, int, int]:
        """(application id, schema version, number of schema objects), read in the caller's
        transaction so a store being created by another process is seen whole or not at all."""
        conn = self._conn
        app = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        return app, version, objects

    def _check_identity(self) -> int:
        """Refuse another program's database or a newer store before changing anything."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            app, version, objects = self._identity()
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")  # a read: nothing to keep, and never left open
        if app not in (0, APPLICATION_ID) or (app == 0 and objects):
            raise HistoryError(
                f"{self.path} is not an x12dental history store (it is another program's "
                "SQLite database); give --history a new file name"
            )
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"the history store {self.path} was written by a newer x12dental (store "
                f"schema {version}; this version reads up to {SCHEMA_VERSION}): upgrade "
                "x12dental, or use another store"
            )
        return version

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the store to SCHEMA_VERSION. Decided again under the write lock: another
        process may have created or migrated the store since we looked."""
        app, version, objects = self._identity()
        if version >= SCHEMA_VERSION:
            return
        if app not in (0, APPLICATION_ID) or (app == 0 and objects):
            raise HistoryError(f"{self.path} is not an x12dental history store")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            if target == 1:
                now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("salt", secrets.token_hex(32)), ("created", now)],
                )
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- plumbing ------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        text = str(exc)
        low = text.lower()
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return HistoryError(
                f"the history store {self.path} is damaged or is not an SQLite database "
                f"({text}); move it away (a new store starts empty) or restore it from a backup"
            )
        if "readonly" in low or "read-only" in low:
            return HistoryError(f"the history store {self.path} cannot be written ({text})")
        if "full" in low:
            return HistoryError(f"the history store {self.path} cannot grow: {text}")
        if "unable to open" in low:
            return HistoryError(f"the history store {self.path} cannot be opened ({text})")
        return HistoryError(f"the history store {self.path} failed: {text}")

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it gets past a busy store (other processes writing), for up to
        `timeout` seconds; any other SQLite failure becomes a HistoryError."""
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            try:
                with self._lock:
                    return attempt()
            except sqlite3.Error as exc:
                if not _busy(exc):
                    raise self._error(exc) from None
                if time.monotonic() >= deadline:
                    raise HistoryError(
                        f"the history store {self.path} stayed locked by other processes for "
                        f"{self.timeout:g} s; try again when they have finished"
                    ) from None
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.25)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction, taken up front (BEGIN IMMEDIATE) so it cannot deadlock
        with another writer half-way; rolled back on any failure."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return out

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(lambda: self._transaction(work))

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        args = tuple(params)
        return self._retrying(lambda: self._conn.execute(sql, args).fetchall())

    def _hash(self, kind: str, value: str) -> bytes:
        """A keyed hash, with the kind of value in it so equal texts of different kinds differ."""
        message = kind.encode() + b"\0" + value.encode("utf-8", "replace")
        return hmac.new(self._salt, message, hashlib.sha256).digest()[:16]

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent to a worker process, a store reopens there with its own connection."""
        return (_reopen, (str(self.path), self._create, self.timeout))

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    # -- engine.History ------------------------------------------------------------------

    def services(
        self,
        patient: str,
        *,
        codes: frozenset[str] | None = None,
        tooth: str | None = None,
        exclude_claim: str | None = None,
    ) -> list[ServiceRecord]:
        """The patient's services from earlier files, oldest first.

        Replaced and voided claims, and voids themselves, are left out. Of identical claims
        (the same claim sent again) only one copy counts, an accepted one when there is one,
        so a resent batch does not double a frequency count. Rejected claims are returned with
        `rejected=True`: the rules decide what they mean. `exclude_claim` (a CLM01) leaves
        out that claim's earlier versions: a replacement or void being checked is not an
        earlier service of itself.
        """
        sql = (
            "SELECT c.id, c.claim_key, c.content, c.rejected, s.line, s.code, s.tooth, "
            "s.surfaces, s.service_date FROM claims c JOIN services s ON s.claim = c.id "
            "WHERE c.patient = ? AND c.superseded_by IS NULL AND c.frequency <> '8'"
        )
        params: list[Any] = [self._hash("patient", patient)]
        if tooth is not None:
            sql += " AND s.tooth = ?"
            params.append(tooth)
        if exclude_claim is not None:
            sql += " AND c.claim_key <> ?"
            params.append(self._hash("claim", exclude_claim))
        rows = self._read(sql + " ORDER BY c.id, s.rowid", params)
        chosen: dict[bytes, tuple[int, bool]] = {}
        for claim, _key, content, rejected, *_ in rows:
            best = chosen.get(content)
            if best is None or (best[1] and not rejected):
                chosen[content] = (claim, bool(rejected))
        out = []
        for claim, key, content, rejected, line, code, tooth_, surfaces, day in rows:
            if chosen[content][0] != claim or (codes is not None and code not in codes):
                continue
            out.append(
                ServiceRecord(
                    patient,
                    code,
                    tooth_,
                    tuple(surfaces),
                    _date(day),
                    "h:" + bytes(key).hex()[:12],
                    line,
                    "history",
                    bool(rejected),
                )
            )
        return out

    def claim_seen(self, content_hash: str, since: dt.date) -> bool:
        """Was an identical claim (claim_content_hash) recorded on or after `since`?

        Only claims that went through count: a claim rejected by the checks never reached
        the payer, and a replaced or voided one is no longer on file there.
        """
        rows = self._read(
            "SELECT 1 FROM claims WHERE content = ? AND seen_on >= ? AND rejected = 0 "
            "AND superseded_by IS NULL LIMIT 1",
            (self._hash("content", content_hash), _ymd(since)),
        )
        return bool(rows)

    # -- recording -----------------------------------------------------------------------

    def begin_file(
        self, name: str, *, seen: dt.date | None = None, digest: str | None = None
    ) -> FileRecorder:
        """A recorder for one checked file; nothing is written until its `commit`."""
        return FileRecorder(self, name, seen or dt.date.today(), digest)

    def _record(self, recorder: FileRecorder, rejected: list[bool]) -> RecordedFile:
        pending = recorder.pending
        seen = _ymd(recorder.seen)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        name_hash = self._hash("file", recorder.name)
        digest = self._hash("digest", recorder.digest) if recorder.digest else None
        claims: list[tuple[int, bytes, bytes, bytes, str, bool]] = []
        services: list[tuple[Any, ...]] = []
        replacing: list[tuple[int, bytes, bytes]] = []
        for i, (item, is_rejected) in enumerate(zip(pending, rejected, strict=True)):
            patient = self._hash("patient", item.patient)
            key = self._hash("claim", item.claim_id)
            claims.append(
                (i, patient, key, self._hash("content", item.content), item.frequency, is_rejected)
            )
            services.extend((i, *svc) for svc in item.services)
            if item.frequency in ("7", "8") and not is_rejected:
                replacing.append((i, patient, key))
        n_rejected = sum(rejected)

        def work(conn: sqlite3.Connection) -> RecordedFile:
            cur = conn.execute(
                "INSERT INTO files (name_hash, digest, seen_on, recorded_at, claims, rejected) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name_hash, digest, seen, now, len(pending), n_rejected),
            )
            file_id = cur.lastrowid
            base = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM claims").fetchone()[0]
            conn.executemany(
                "INSERT INTO claims (id, file_id, patient, claim_key, content, frequency, "
                "rejected, superseded_by, seen_on) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                ((base + i, file_id, p, k, c, f, int(r), seen) for i, p, k, c, f, r in claims),
            )
            conn.executemany(
                "INSERT INTO services (claim, line, code, tooth, surfaces, service_date) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ((base + i, *rest) for i, *rest in services),
            )
            conn.executemany(
                "UPDATE claims SET superseded_by = ? WHERE patient = ? AND claim_key = ? "
                "AND id < ? AND superseded_by IS NULL AND rejected = 0",
                ((base + i, p, k, base + i) for i, p, k in replacing),
            )
            assert file_id is not None
            return RecordedFile(file_id, len(pending), n_rejected, len(services))

        return self._write(work)

    # -- maintenance (`x12dental history`) -------------------------------------------------

    def stats(self) -> StoreStats:
        def read(conn: sqlite3.Connection) -> StoreStats:
            one = conn.execute(
                "SELECT count(*), coalesce(sum(rejected), 0), count(superseded_by), "
                "count(DISTINCT patient) FROM claims"
            ).fetchone()
            files = conn.execute("SELECT count(*), min(seen_on), max(seen_on) FROM files")
            n_files, first, last = files.fetchone()
            n_services = conn.execute("SELECT count(*) FROM services").fetchone()[0]
            created = conn.execute("SELECT value FROM meta WHERE key = 'created'").fetchone()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            return StoreStats(
                path=str(self.path),
                schema_version=int(version),
                created=str(created[0]) if created else "",
                files=int(n_files),
                claims=int(one[0]),
                rejected_claims=int(one[1]),
                superseded_claims=int(one[2]),
                services=int(n_services),
                patients=int(one[3]),
                first_seen=_date(first),
                last_seen=_date(last),
                size_bytes=self.size_bytes(),
            )

        def snapshot() -> StoreStats:
            """All counts from one read transaction: consistent while others write."""
            self._conn.execute("BEGIN")
            try:
                return read(self._conn)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")

        return self._retrying(snapshot)

    def size_bytes(self) -> int:
        """The store on disk, its write-ahead log included."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(f"{self.path}{suffix}")
        return total

    def forget(self, before: dt.date) -> ForgetResult:
        """Delete every file recorded before `before` (by its seen date), with its claims.

        Whole files go, so the store never holds part of a file. Deleted pages are
        overwritten (secure_delete) and the log is checkpointed, so the data does not linger.
        """
        cut = _ymd(before)
        old_claims = (
            "SELECT id FROM claims WHERE file_id IN (SELECT id FROM files WHERE seen_on < ?)"
        )

        def work(conn: sqlite3.Connection) -> ForgetResult:
            services = conn.execute(
                f"DELETE FROM services WHERE claim IN ({old_claims})", (cut,)
            ).rowcount
            conn.execute(
                f"UPDATE claims SET superseded_by = NULL WHERE superseded_by IN ({old_claims})",
                (cut,),
            )
            claims = conn.execute(
                "DELETE FROM claims WHERE file_id IN (SELECT id FROM files WHERE seen_on < ?)",
                (cut,),
            ).rowcount
            files = conn.execute("DELETE FROM files WHERE seen_on < ?", (cut,)).rowcount
            return ForgetResult(files, claims, services)

        self._retrying(lambda: self._conn.execute("PRAGMA secure_delete = ON"))
        result = self._write(work)
        with contextlib.suppress(HistoryError):
            self._retrying(lambda: self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        return result

    def export(self, *, page: int = 1000) -> Iterator[dict[str, object]]:
        """Every claim as a JSON-ready dict: hashes (hex), codes, teeth, dates; never the salt.

        Read a page of claims at a time, so a large store exports in flat memory.
        """
        last = 0
        while True:
            rows = self._read(
                "SELECT c.id, f.name_hash, c.seen_on, c.patient, c.claim_key, c.content, "
                "c.frequency, c.rejected, c.superseded_by IS NOT NULL, s.line, s.code, "
                "s.tooth, s.surfaces, s.service_date FROM claims c "
                "JOIN files f ON f.id = c.file_id LEFT JOIN services s ON s.claim = c.id "
                "WHERE c.id IN (SELECT id FROM claims WHERE id > ? ORDER BY id LIMIT ?) "
                "ORDER BY c.id, s.rowid",
                (last, page),
            )
            if not rows:
                return
            current: dict[str, object] | None = None
            services: list[dict[str, object]] = []
            for cid, file_hash, seen, patient, key, content, freq, rej, sup, *svc in rows:
                if cid != last:
                    if current is not None:
                        yield current
                    last = cid
                    services = []
                    current = {
                        "type": "claim",
                        "file": bytes(file_hash).hex(),
                        "seen_on": _day(_date(seen)),
                        "patient": bytes(patient).hex(),
                        "claim": bytes(key).hex(),
                        "content": bytes(content).hex(),
                        "frequency": freq,
                        "rejected": bool(rej),
                        "superseded": bool(sup),
                        "services": services,
                    }
                line, code, tooth, surfaces, day = svc
                if code is not None:
                    services.append(
                        {
                            "line": line,
                            "code": code,
                            "tooth": tooth,
                            "surfaces": surfaces,
                            "date": _day(_date(day)) or None,
                        }
                    )
            if current is not None:
                yield current


def _reopen(path: str, create: bool, timeout: float) -> HistoryStore:
    return HistoryStore(path, create=create, timeout=timeout)


def open_history(
    path: str | os.PathLike[str], *, create: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> HistoryStore:
    """Open (or create) the store at `path`; raises HistoryError with a message for people."""
    return HistoryStore(path, create=create, timeout=timeout)


class FileRecorder:
    """Collects one file's checked claims; `commit` writes them in one transaction.

    Holds hashes and services only (no names, no narratives) until the file's findings are
    final, because whether a claim was rejected is known only then. A file that is never
    committed (unreadable, crashed, killed) leaves no trace in the store.
    """

    def __init__(self, store: HistoryStore, name: str, seen: dt.date, digest: str | None) -> None:
        self.store = store
        self.name = name
        self.seen = seen
        self.digest = digest
        self.pending: list[_PendingClaim] = []
        self.committed: RecordedFile | None = None

    def add(self, claim: m.Claim, patient: str | None = None) -> None:
        """A claim the pipeline checked (only those: claims of unchecked groups are not)."""
        key = patient if patient is not None else patient_key(claim)
        services = tuple(
            (rec.line, rec.code, rec.tooth, "".join(rec.surfaces), _ymd(rec.date))
            for rec in services_of(claim, key)
        )
        self.pending.append(
            _PendingClaim(
                claim.envelope,
                claim.claim_id,
                key,
                claim_content_hash(claim, key),
                claim.frequency,
                services,
            )
        )

    def commit(self, findings: Collection[Finding] = ()) -> RecordedFile:
        """Record the file with each claim's final status; call once, after the last finding."""
        if self.committed is not None:
            raise RuntimeError("this file is already recorded")
        flags = rejected_claims(findings, ((p.envelope, p.claim_id) for p in self.pending))
        self.committed = self.store._record(self, flags)
        self.pending = []
        return self.committed
