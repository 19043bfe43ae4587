"""Learners' answers and educators' sessions in one SQLite file or one PostgreSQL database, shared by
threads and processes (several app servers share a PostgreSQL database: docs/deploy.md).

A learner is a nickname and a personal key (random, shown once, only its hash kept): the pages open a
learner's answers only after `sign_in`. Nicknames match whatever the case, in any alphabet. Answers
and sessions older than the retention period (FER_RETENTION_DAYS, default 180) are deleted.
SQLite: every call opens its own short connection (WAL mode, busy timeout, one statement per write), so
one Store can serve every browser session of the app. PostgreSQL: a pool of connections does the same.
The SQL is written once, in SQLite's form; a small dialect seam adapts it for PostgreSQL. No TensorFlow here.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import itertools
import os
import re
import secrets
import sqlite3
import unicodedata
import weakref
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from fercore.data import PROJECT_ROOT
from fercore.errors import FercoreError
from fercore.labels import EMOTIONS, NUM_CLASSES

SCHEMA_VERSION = 3  # SQLite: PRAGMA user_version; PostgreSQL: schema_version; 2 added display_choices, 3 learners
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    code        TEXT PRIMARY KEY,          -- the join code learners type
    name        TEXT NOT NULL,
    emotions    TEXT NOT NULL,             -- comma-separated emotion names to practise
    questions   INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    token_hash  TEXT NOT NULL,             -- sha256 of the educator token, never the token
    created_at  TEXT NOT NULL              -- ISO 8601, UTC
);
CREATE TABLE IF NOT EXISTS answers (
    id          INTEGER PRIMARY KEY,
    answered_at TEXT NOT NULL,             -- ISO 8601, UTC
    learner     TEXT NOT NULL COLLATE NOCASE,
    session     TEXT REFERENCES sessions (code),
    face_id     TEXT NOT NULL,
    true_label  INTEGER NOT NULL CHECK (true_label BETWEEN 0 AND {NUM_CLASSES - 1}),  -- index into EMOTIONS
    guess       INTEGER NOT NULL CHECK (guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_guess INTEGER NOT NULL CHECK (model_guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    level       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS display_choices (
    learner     TEXT PRIMARY KEY COLLATE NOCASE,
    choices     TEXT NOT NULL              -- comma-separated names of the DisplayChoices that are on
);
CREATE TABLE IF NOT EXISTS learners (
    folded      TEXT PRIMARY KEY,          -- the nickname case-folded (any alphabet): how it is looked up
    name        TEXT NOT NULL,             -- as first typed
    key_hash    TEXT NOT NULL,             -- sha256 of the learner's key, never the key
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_learner ON answers (learner);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers (session);
"""
# The same tables, columns in the same order (some INSERTs rely on it). Times are ISO text compared with
# `<`, so they sort bytewise (COLLATE "C") whatever the database's locale. ON DELETE CASCADE: writers here
# run side by side, so an answer saved between a deletion's two statements goes with its session.
POSTGRES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    emotions    TEXT NOT NULL,
    questions   INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    token_hash  TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    answered_at TEXT COLLATE "C" NOT NULL,
    learner     TEXT NOT NULL,
    session     TEXT REFERENCES sessions (code) ON DELETE CASCADE,
    face_id     TEXT NOT NULL,
    true_label  INTEGER NOT NULL CHECK (true_label BETWEEN 0 AND {NUM_CLASSES - 1}),
    guess       INTEGER NOT NULL CHECK (guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_guess INTEGER NOT NULL CHECK (model_guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    level       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS display_choices (
    learner     TEXT NOT NULL,
    choices     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    folded      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS display_choices_by_learner ON display_choices (lower(learner COLLATE "C"));
CREATE INDEX IF NOT EXISTS answers_by_learner ON answers (lower(learner COLLATE "C"));
CREATE INDEX IF NOT EXISTS answers_by_session ON answers (session);
"""
SCHEMA_LOCK = 0x6665_7263_6F72_65  # "fercore": the advisory lock held while PostgreSQL's schema is created

BUSY_TIMEOUT_S = 30.0  # SQLite
POOL_SIZE = 10  # PostgreSQL connections per Store (per app server) at most
CLEAR_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 6
TOKEN_GROUPS = 3  # the educator token: three groups of four, about 59 random bits
KEY_GROUPS = 2  # a learner's key: two groups of four, about 40 bits, short enough to say aloud
RETENTION_DAYS = 180
TREND_WINDOW = 20  # the fewest answers averaged for each point of a progress trend
SESSION_NAME_MAX = 60  # shown on every learner's screen: a line, not a paragraph
SITTING_GAP = timedelta(minutes=30)  # a longer pause starts a new sitting
NICKNAME_MAX = 30
MOST_MISSED = 10
CSV_COLUMNS = ("answered_at", "learner", "face_id", "true_label", "guess", "model_guess", "correct",
               "model_correct", "level", "session", "session_name")
CSV_TIME = "%Y-%m-%d %H:%M:%S"  # the server's local time, a form spreadsheets read as a date


class StoreError(FercoreError):
    pass


class UnknownSessionCode(StoreError):
    pass


class WrongEducatorToken(StoreError):
    pass


class NicknameTaken(StoreError):
    pass


class WrongLearnerKey(StoreError):
    pass


@dataclass(frozen=True)
class Answer:
    """One quiz answer; labels are class indices into fercore.labels.EMOTIONS."""

    face_id: str
    true_label: int
    guess: int
    model_guess: int
    level: int

    @property
    def correct(self) -> bool:
        return self.guess == self.true_label

    @property
    def model_correct(self) -> bool:
        return self.model_guess == self.true_label


@dataclass(frozen=True)
class StoredAnswer(Answer):
    id: int
    learner: str
    session: str | None
    answered_at: datetime


@dataclass(frozen=True)
class Tally:
    answered: int
    correct: int
    model_correct: int

    @classmethod
    def of(cls, answers: Iterable[Answer]) -> Tally:
        answers = list(answers)
        return cls(len(answers), sum(a.correct for a in answers), sum(a.model_correct for a in answers))

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def model_accuracy(self) -> float:
        return self.model_correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class Period:
    """A day or a sitting of one learner's practice."""

    label: str  # "2025-11-25" for a day, "2025-11-25 14:05" (local start time) for a sitting
    start: datetime
    end: datetime
    session: str | None  # the educator session, when every answer in the period belongs to one
    overall: Tally
    emotions: dict[str, Tally]  # by true emotion, only those asked


@dataclass(frozen=True)
class DisplayChoices:
    """How a learner wants the app shown; all off unless they choose."""

    larger_text: bool = False
    high_contrast: bool = False
    reduced_motion: bool = False
    read_aloud: bool = False  # the question, the reveal and the cue, by the browser's speech synthesis


@dataclass(frozen=True)
class YouVsModel:
    """The learner and the model on the same faces (the faces the learner answered)."""

    both_right: int
    only_you: int
    only_model: int
    both_wrong: int

    @property
    def faces(self) -> int:
        return self.both_right + self.only_you + self.only_model + self.both_wrong


@dataclass(frozen=True)
class Session:
    code: str
    name: str
    emotions: tuple[str, ...]
    questions: int
    level: int
    created_at: datetime


@dataclass(frozen=True)
class MissedFace:
    face_id: str
    true_label: int
    shown: int
    missed: int
    common_guess: int  # the wrong answer given most often


@dataclass(frozen=True)
class SessionResult:
    """One learner's answers in one class session: theirs only, never ranked against others."""

    overall: Tally
    emotions: dict[str, Tally]  # by true emotion, in EMOTIONS order
    hard_faces: list[MissedFace]  # the faces they missed


@dataclass(frozen=True)
class SessionReport:
    session: Session
    learners: dict[str, Tally]
    emotions: dict[str, Tally]  # by true emotion
    confusion: np.ndarray  # (7, 7) rows = true emotion, columns = the group's answers
    model_confusion: np.ndarray  # the model on the same faces
    most_missed: list[MissedFace]


def default_db_path() -> Path | str:
    """FER_DB: a SQLite file's path, or a PostgreSQL URL (kept as text); else data/progress.sqlite3."""
    value = os.environ.get("FER_DB")
    return value if is_postgres_url(value) else Path(value or PROJECT_ROOT / "data" / "progress.sqlite3")


def is_postgres_url(location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def retention_days() -> int:
    """FER_RETENTION_DAYS, else RETENTION_DAYS."""
    text = os.environ.get("FER_RETENTION_DAYS", "")
    try:
        days = int(text) if text else RETENTION_DAYS
    except ValueError:
        raise StoreError(f"FER_RETENTION_DAYS must be a whole number of days, not {text!r}.") from None
    if days < 1:
        raise StoreError("FER_RETENTION_DAYS must be at least 1.")
    return days


def trend_window(answered: int) -> int:
    """Longer histories get smoother trends: about a fortieth of them, at least TREND_WINDOW."""
    return max(TREND_WINDOW, answered // 40)


def trends(answers: Iterable[Answer], window: int) -> dict[str, tuple[list[int], list[float]]]:
    """A smoothed trend per emotion and for all together ("all emotions"): after each answer, the share of
    the latest `window` answers of that kind that matched the label, against the learner's answer count.
    Answers oldest first. Smoothing over answers, not sittings, keeps a sitting with one fear face from
    swinging the line between 0% and 100%."""
    recent: dict[str, list[bool]] = {}
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for number, answer in enumerate(answers, start=1):
        for kind in (EMOTIONS[answer.true_label], "all emotions"):
            hits = recent.setdefault(kind, [])
            hits.append(answer.correct)
            del hits[:-window]
            xs, ys = lines.setdefault(kind, ([], []))
            xs.append(number)
            ys.append(sum(hits) / len(hits))
    return lines


def confusion_matrix(answers: Iterable[Answer], model: bool = False) -> np.ndarray:
    """(7, 7) counts, rows = true emotion, columns = the learner's (or the model's) answer."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for a in answers:
        matrix[a.true_label, a.model_guess if model else a.guess] += 1
    return matrix


def normalize_nickname(nickname: str) -> str:
    """Trimmed, single-spaced, NFKC; letters, digits, space, - _ . only, so a CSV cell never starts a formula."""
    name = " ".join(unicodedata.normalize("NFKC", str(nickname)).split())
    if not 1 <= len(name) <= NICKNAME_MAX:
        raise StoreError(f"A nickname needs 1 to {NICKNAME_MAX} characters.")
    if not name[0].isalnum() or not all(c.isalnum() or c in " -_." for c in name):
        raise StoreError("A nickname may use letters, digits, spaces and - _ . and must start with a letter or digit.")
    return name


def fold(nickname: str) -> str:
    """How nicknames are compared: "ZOË" and "zoë" are the same learner."""
    return normalize_nickname(nickname).casefold()


def normalize_code(text: str) -> str:
    """What people type -> the stored form: case, spaces and dashes do not matter."""
    return "".join(str(text).split()).replace("-", "").upper()


# The dialect seam. The Store's SQL is SQLite's, with `?` and `?N` parameters, plus NOCASE(x): compare x
# as SQLite's COLLATE NOCASE does (ASCII letters folded, nothing else), which answers.learner and
# display_choices.learner need. lower() under the "C" collation folds exactly those letters in PostgreSQL.
_NOCASE = re.compile(r"NOCASE\(([^()]*)\)")
_PARAMETER = re.compile(r"\?(\d*)")


@functools.cache
def _sqlite_sql(sql: str) -> str:
    return _NOCASE.sub(r"\1 COLLATE NOCASE", sql)


@functools.cache
def _postgres_sql(sql: str) -> tuple[str, tuple[int, ...]]:
    """psycopg's form: each `?` or `?N` becomes `%s`; returns the query and which parameter each `%s` takes."""
    order: list[int] = []
    plain = itertools.count()

    def placeholder(match: re.Match) -> str:
        order.append(int(match[1]) - 1 if match[1] else next(plain))
        return "%s"

    query = _PARAMETER.sub(placeholder, _NOCASE.sub(r'lower(\1 COLLATE "C")', sql.replace("%", "%%")))
    return query, tuple(order)


class _SQLite:
    """One short connection per call: SQLite's locks work across processes; WAL lets readers go on
    while one writer writes."""

    IntegrityError = sqlite3.IntegrityError

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Held open, unused, so closing a per-call connection never checkpoints and deletes the WAL.
        self._keep_open = self._connect(check_same_thread=False)

    def upgrade(self) -> None:
        conn = self._keep_open
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # stored in the file: set once
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer fercore (schema {version}); update fercore.")
        conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        # Autocommit: each write is one statement, so each is its own short transaction.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=check_same_thread)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def execute(self, sql: str, params: tuple) -> list[tuple]:
        with closing(self._connect()) as conn:
            return conn.execute(_sqlite_sql(sql), params).fetchall()

    def execute_together(self, statements: Iterable[tuple[str, tuple]]) -> list[int]:
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                counts = [conn.execute(_sqlite_sql(sql), params).rowcount for sql, params in statements]
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return counts

    @staticmethod
    def is_foreign_key(error: Exception) -> bool:
        return "FOREIGN KEY" in str(error)

    def close(self) -> None:
        self._keep_open.close()


class _Postgres:
    """A pool of connections, shared by the Store's threads: a connection per call would cost a login
    each time, and one per thread would grow with Streamlit's threads."""

    def __init__(self, url: str):
        import psycopg  # only where PostgreSQL is used
        from psycopg_pool import ConnectionPool

        self.IntegrityError = psycopg.IntegrityError
        self._foreign_key = psycopg.errors.ForeignKeyViolation
        self._connect = functools.partial(psycopg.connect, url, autocommit=True)
        self._connect().close()  # a wrong URL or a server down: psycopg's message now, not a pool timeout later
        # check: a connection the server dropped (a restart) is replaced, not handed to a page.
        self._pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, kwargs={"autocommit": True},
                                    check=ConnectionPool.check_connection, open=True, name="fercore-store")
        weakref.finalize(self, self._pool.close)  # the pool's threads would otherwise outlive the Store

    def upgrade(self) -> None:
        # The lock: app servers starting together would otherwise race to create the same tables.
        with self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(f"The PostgreSQL database {conn.info.dbname} was written by a newer fercore "
                                 f"(schema {version}); update fercore.")
            if version < SCHEMA_VERSION:  # later versions: their ALTERs go here, after the tables
                conn.execute(POSTGRES_SCHEMA)
                conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))

    def execute(self, sql: str, params: tuple) -> list[tuple]:
        query, order = _postgres_sql(sql)
        with self._pool.connection() as conn:
            cursor = conn.execute(query, [params[i] for i in order])
            return cursor.fetchall() if cursor.description else []

    def execute_together(self, statements: Iterable[tuple[str, tuple]]) -> list[int]:
        with self._pool.connection() as conn, conn.transaction():
            counts = []
            for sql, params in statements:
                query, order = _postgres_sql(sql)
                counts.append(conn.execute(query, [params[i] for i in order]).rowcount)
            return counts

    def is_foreign_key(self, error: Exception) -> bool:
        return isinstance(error, self._foreign_key)

    def close(self) -> None:
        self._pool.close()


class Store:
    def __init__(self, path: str | os.PathLike | None = None):
        """path: a SQLite file, or a PostgreSQL URL (postgresql://user@host/db); default FER_DB."""
        location = path or default_db_path()
        if is_postgres_url(location):
            self.path, self._db = location, _Postgres(location)  # path: the URL
        else:
            self.path = Path(location)
            self._db = _SQLite(self.path)
        self._db.upgrade()
        self.expire(retention_days())

    def close(self) -> None:
        """Let go of the database's connections now rather than when the Store is collected."""
        self._db.close()

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, params)

    def _execute_together(self, *statements: tuple[str, tuple]) -> list[int]:
        """Several writes as one transaction; returns each one's row count."""
        return self._db.execute_together(statements)

    # Identity

    def register_learner(self, nickname: str) -> tuple[str, str]:
        """A new learner: returns the nickname as kept and their key (show it once; only its hash is kept).
        Answers saved under the nickname before keys existed go to whoever registers it first."""
        name = normalize_nickname(nickname)
        earlier = self._execute("SELECT learner FROM answers WHERE NOCASE(learner) = NOCASE(?) LIMIT 1", (name,))
        name = earlier[0][0] if earlier else name
        key = "-".join(_random_text(4) for _ in range(KEY_GROUPS))
        try:
            self._execute("INSERT INTO learners VALUES (?, ?, ?, ?)",
                          (name.casefold(), name, _hash(key), datetime.now(timezone.utc).isoformat()))
        except self._db.IntegrityError:
            raise NicknameTaken(f"The nickname {name} is taken. If it is yours, type your key; "
                                "if not, choose another nickname.") from None
        return name, key

    def is_registered(self, nickname: str) -> bool:
        return bool(self._execute("SELECT 1 FROM learners WHERE folded = ?", (fold(nickname),)))

    def sign_in(self, nickname: str, key: str) -> str:
        """The nickname as kept, when the key opens it; raises WrongLearnerKey otherwise."""
        name = normalize_nickname(nickname)
        rows = self._execute("SELECT name, key_hash FROM learners WHERE folded = ?", (name.casefold(),))
        if not rows or not key or not hmac.compare_digest(_hash(key), rows[0][1]):
            raise WrongLearnerKey(f"That key does not open the nickname {name}. Check the key, "
                                  "or choose another nickname.")
        return rows[0][0]

    def forget_learner(self, nickname: str, key: str) -> int:
        """Delete the learner, their answers and display choices; returns how many answers went."""
        name = self.sign_in(nickname, key)
        answers, *_ = self._execute_together(("DELETE FROM answers WHERE NOCASE(learner) = NOCASE(?)", (name,)),
                                             ("DELETE FROM display_choices WHERE NOCASE(learner) = NOCASE(?)",
                                              (name,)),
                                             ("DELETE FROM learners WHERE folded = ?", (name.casefold(),)))
        return answers

    def expire(self, days: int, now: datetime | None = None) -> tuple[int, int]:
        """Delete answers and sessions older than `days` (a session's answers go with it), and learners
        registered that long ago who have no answers left. Returns (answers, sessions) deleted."""
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).astimezone(timezone.utc).isoformat()
        old_sessions = "SELECT code FROM sessions WHERE created_at < ?1"
        idle_learners = "created_at < ?1 AND name NOT IN (SELECT learner FROM answers)"
        answers, sessions, *_ = self._execute_together(
            (f"DELETE FROM answers WHERE answered_at < ?1 OR session IN ({old_sessions})", (cutoff,)),
            ("DELETE FROM sessions WHERE created_at < ?1", (cutoff,)),
            ("DELETE FROM display_choices WHERE NOCASE(learner) IN "
             f"(SELECT NOCASE(name) FROM learners WHERE {idle_learners})", (cutoff,)),
            (f"DELETE FROM learners WHERE {idle_learners}", (cutoff,)),
        )
        return answers, sessions

    def _kept_name(self, nickname: str) -> str:
        """The nickname as registered (any case typed), else as typed."""
        name = normalize_nickname(nickname)
        rows = self._execute("SELECT name FROM learners WHERE folded = ?", (name.casefold(),))
        return rows[0][0] if rows else name

    # Learners

    def record(self, learner: str, answer: Answer, session: str | None = None,
               at: datetime | None = None) -> StoredAnswer:
        learner = self._kept_name(learner)
        session = normalize_code(session) if session else None
        at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        try:
            # A nickname keeps the spelling it was first given, whatever case is typed later.
            row_id, learner = self._execute(
                "INSERT INTO answers (answered_at, learner, session, face_id, true_label, guess, model_guess, level) "
                "VALUES (?1, COALESCE((SELECT learner FROM answers WHERE NOCASE(learner) = NOCASE(?2) LIMIT 1), ?2), "
                "?3, ?4, ?5, ?6, ?7, ?8) RETURNING id, learner",
                (at.isoformat(), learner, session, answer.face_id, int(answer.true_label), int(answer.guess),
                 int(answer.model_guess), int(answer.level)),
            )[0]
        except self._db.IntegrityError as exc:
            if session and self._db.is_foreign_key(exc):
                raise UnknownSessionCode(f"There is no session with the code {session}.") from None
            raise StoreError(f"That answer could not be saved ({exc}).") from None
        return StoredAnswer(answer.face_id, int(answer.true_label), int(answer.guess), int(answer.model_guess),
                            int(answer.level), row_id, learner, session, at)

    def answers(self, learner: str, limit: int | None = None) -> list[StoredAnswer]:
        """The learner's answers, oldest first; with limit, only the latest that many."""
        return self._answers("NOCASE(learner) = NOCASE(?)", (self._kept_name(learner),), limit)

    def progress(self, learner: str, by: Literal["day", "sitting"] = "day") -> list[Period]:
        """Accuracy overall and per emotion for each day or sitting, oldest first."""
        split = {"day": _days, "sitting": _sittings}[by]
        return [_period(group, by) for group in split(self.answers(learner))]

    def confusion(self, learner: str) -> tuple[np.ndarray, np.ndarray]:
        """The learner's confusion matrix and the model's on the same faces."""
        answers = self.answers(learner)
        return confusion_matrix(answers), confusion_matrix(answers, model=True)

    def display_choices(self, learner: str) -> DisplayChoices:
        rows = self._execute("SELECT choices FROM display_choices WHERE NOCASE(learner) = NOCASE(?)",
                             (self._kept_name(learner),))
        on = set(rows[0][0].split(",")) if rows else set()
        return DisplayChoices(**{name: name in on for name in DisplayChoices.__dataclass_fields__})

    def save_display_choices(self, learner: str, choices: DisplayChoices) -> None:
        on = ",".join(name for name, value in vars(choices).items() if value)
        self._execute("INSERT INTO display_choices VALUES (?, ?) ON CONFLICT (NOCASE(learner)) DO UPDATE "
                      "SET choices = ?", (self._kept_name(learner), on, on))

    def streak(self, learner: str) -> int:
        """How many answers in a row, up to the latest, were right."""
        (count,) = self._execute(
            "SELECT COUNT(*) FROM answers WHERE NOCASE(learner) = NOCASE(?1) AND id > "
            "(SELECT COALESCE(MAX(id), 0) FROM answers WHERE NOCASE(learner) = NOCASE(?1) AND guess != true_label)",
            (self._kept_name(learner),),
        )[0]
        return count

    def you_vs_model(self, learner: str) -> YouVsModel:
        outcomes = Counter((a.correct, a.model_correct) for a in self.answers(learner))
        return YouVsModel(outcomes[True, True], outcomes[True, False], outcomes[False, True], outcomes[False, False])

    def session_result(self, learner: str, code: str) -> SessionResult:
        answers = self._answers("NOCASE(learner) = NOCASE(?) AND session = ?",
                                (self._kept_name(learner), normalize_code(code)))
        return SessionResult(Tally.of(answers), _by_emotion(answers), _most_missed(answers))

    # Educators

    def create_session(self, name: str, emotions: Iterable[str], questions: int, level: int) -> tuple[Session, str]:
        """A new session and its educator token; show the token once, only its hash is kept."""
        name, emotions = " ".join(str(name).split()), set(emotions)
        chosen = tuple(e for e in EMOTIONS if e in emotions)
        if not name or emotions - set(EMOTIONS) or not chosen or questions < 1 or level < 1:
            raise StoreError("A session needs a name, at least one of the seven emotions, "
                             "one or more questions and a level.")
        if len(name) > SESSION_NAME_MAX:
            raise StoreError(f"A session name can have at most {SESSION_NAME_MAX} characters: it is shown "
                             "on every learner's screen.")
        self.expire(retention_days())  # a long-running server expires old data as new sessions start
        token = "-".join(_random_text(4) for _ in range(TOKEN_GROUPS))
        created = datetime.now(timezone.utc)
        while True:
            code = _random_text(CODE_LENGTH)
            try:
                self._execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (code, name, ",".join(chosen), int(questions), int(level), _hash(token),
                               created.isoformat()))
                return Session(code, name, chosen, int(questions), int(level), created), token
            except self._db.IntegrityError:
                continue  # the code is taken: draw another

    def join_session(self, code: str) -> Session:
        code = normalize_code(code)
        rows = self._execute("SELECT code, name, emotions, questions, level, created_at FROM sessions WHERE code = ?",
                             (code,))
        if not rows:
            raise UnknownSessionCode(f"There is no session with the code {code or '(empty)'}. "
                                     "Check the code with your educator.")
        code, name, emotions, questions, level, created_at = rows[0]
        return Session(code, name, tuple(emotions.split(",")), questions, level, datetime.fromisoformat(created_at))

    def session_report(self, code: str, token: str) -> SessionReport:
        session = self._authorize(code, token)
        answers = self._answers("session = ?", (session.code,))
        by_learner = defaultdict(list)
        for a in answers:
            by_learner[a.learner].append(a)
        return SessionReport(
            session,
            {learner: Tally.of(group) for learner, group in sorted(by_learner.items())},
            _by_emotion(answers),
            confusion_matrix(answers),
            confusion_matrix(answers, model=True),
            _most_missed(answers),
        )

    def export_csv(self, code: str, token: str) -> str:
        """Every answer of the session as CSV text with a header row, emotions by name."""
        session = self._authorize(code, token)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for a in self._answers("session = ?", (session.code,)):
            writer.writerow([a.answered_at.astimezone().strftime(CSV_TIME), a.learner, a.face_id,
                             EMOTIONS[a.true_label], EMOTIONS[a.guess], EMOTIONS[a.model_guess], int(a.correct),
                             int(a.model_correct), a.level, a.session, session.name])
        return out.getvalue()

    def delete_session(self, code: str, token: str) -> int:
        """Delete the session and every answer in it; returns how many answers went."""
        session = self._authorize(code, token)
        answers, _ = self._execute_together(("DELETE FROM answers WHERE session = ?", (session.code,)),
                                            ("DELETE FROM sessions WHERE code = ?", (session.code,)))
        return answers

    def _authorize(self, code: str, token: str | None) -> Session:
        session = self.join_session(code)
        (stored,) = self._execute("SELECT token_hash FROM sessions WHERE code = ?", (session.code,))[0]
        if not token or not hmac.compare_digest(_hash(token), stored):
            raise WrongEducatorToken(f"That educator token does not open session {session.code}.")
        return session

    def _answers(self, where: str, params: tuple, limit: int | None = None) -> list[StoredAnswer]:
        columns = "face_id, true_label, guess, model_guess, level, id, learner, session, answered_at"
        sql = f"SELECT {columns} FROM answers WHERE {where} ORDER BY id DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, int(limit))
        rows = self._execute(sql, params)
        return [StoredAnswer(*row[:-1], datetime.fromisoformat(row[-1])) for row in reversed(rows)]


def _random_text(length: int) -> str:
    return "".join(secrets.choice(CLEAR_ALPHABET) for _ in range(length))


def _hash(token: str) -> str:
    # A plain hash suffices: the token is random with ~59 bits, not a password a person chose.
    return hashlib.sha256(normalize_code(token).encode()).hexdigest()


def _days(answers: list[StoredAnswer]) -> list[list[StoredAnswer]]:
    groups: dict[str, list[StoredAnswer]] = defaultdict(list)
    for a in answers:
        groups[a.answered_at.astimezone().date().isoformat()].append(a)
    return list(groups.values())


def _sittings(answers: list[StoredAnswer]) -> list[list[StoredAnswer]]:
    """Split where the learner paused for long or moved in or out of an educator session."""
    groups: list[list[StoredAnswer]] = []
    for a in answers:
        last = groups[-1][-1] if groups else None
        if last is None or a.answered_at - last.answered_at > SITTING_GAP or a.session != last.session:
            groups.append([])
        groups[-1].append(a)
    return groups


def _period(answers: list[StoredAnswer], by: str) -> Period:
    start, end = answers[0].answered_at, answers[-1].answered_at
    label = start.astimezone().strftime("%Y-%m-%d" if by == "day" else "%Y-%m-%d %H:%M")
    sessions = {a.session for a in answers}
    return Period(label, start, end, sessions.pop() if len(sessions) == 1 else None, Tally.of(answers),
                  _by_emotion(answers))


def _by_emotion(answers: list[StoredAnswer]) -> dict[str, Tally]:
    """A tally per true emotion, in EMOTIONS order, only the emotions asked."""
    groups = defaultdict(list)
    for a in answers:
        groups[EMOTIONS[a.true_label]].append(a)
    return {e: Tally.of(groups[e]) for e in EMOTIONS if e in groups}


def _most_missed(answers: list[StoredAnswer]) -> list[MissedFace]:
    by_face: dict[str, list[StoredAnswer]] = defaultdict(list)
    for a in answers:
        by_face[a.face_id].append(a)
    missed = []
    for face_id, shown in by_face.items():
        wrong = Counter(a.guess for a in shown if not a.correct)
        if wrong:
            missed.append(MissedFace(face_id, shown[0].true_label, len(shown), wrong.total(),
                                     wrong.most_common(1)[0][0]))
    missed.sort(key=lambda m: (-m.missed, -m.missed / m.shown, m.face_id))
    return missed[:MOST_MISSED]
