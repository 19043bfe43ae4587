"""The two databases behind one seam, and which one a location names. Each backend offers upgrade(),
execute(), execute_together() (with an optional guard), IntegrityError, is_foreign_key() and close().

SQLite: every call opens its own short connection (WAL mode, busy timeout, one statement per write), so
one Store can serve every browser session of the app. PostgreSQL: a pool of connections does the same.
The SQL is written once, in SQLite's form; a small dialect seam adapts it for PostgreSQL.
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import sqlite3
import weakref
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterable

from fercore.data import PROJECT_ROOT
from fercore.store.errors import StoreError, StoreUnavailable
from fercore.store.schema import ADDED_COLUMNS, ADDED_INDEXES, POSTGRES_SCHEMA, SCHEMA, SCHEMA_LOCK, SCHEMA_VERSION

BUSY_TIMEOUT_S = 30.0  # SQLite: how long a write waits for another writer's lock
POOL_SIZE = 10  # PostgreSQL connections per Store (per app server) at most
POOL_WAIT_S = 10.0  # PostgreSQL: how long a call waits for a connection (a server restarting) before it says so
CONNECT_TIMEOUT_S = 5


def default_db_path() -> Path | str:
    """FER_DB: a SQLite file's path, or a PostgreSQL URL (kept as text); else data/progress.sqlite3."""
    value = os.environ.get("FER_DB")
    return value if is_postgres_url(value) else Path(value or PROJECT_ROOT / "data" / "progress.sqlite3")


def is_postgres_url(location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


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


# A query run last inside execute_together, its message: when its first value is not true, the whole
# transaction is rolled back and StoreError(message) raised (a limit that concurrent writers could cross).
Guard = tuple[str, tuple, str]


def _check(guard: Guard, row: tuple | None) -> None:
    if not (row and row[0]):
        raise StoreError(guard[2])


class _SQLite:
    """One short connection per call: SQLite's locks work across processes; WAL lets readers go on
    while one writer writes."""

    IntegrityError = sqlite3.IntegrityError

    def __init__(self, path: Path, busy_timeout: float | None = None):
        self.path, self._busy_timeout = path, BUSY_TIMEOUT_S if busy_timeout is None else busy_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._said():
            # Held open, unused, so closing a per-call connection never checkpoints and deletes the WAL.
            self._keep_open = self._connect(check_same_thread=False)

    def upgrade(self) -> None:
        conn = self._keep_open
        with self._said():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer fercore (schema {version}); update fercore.")
            if version == SCHEMA_VERSION:  # nothing to write: a read-only file still opens for reading
                return
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")  # stored in the file: set once
            conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA}; COMMIT;")
            for table, columns in ADDED_COLUMNS.items():
                for column, kind in columns.items():
                    try:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise
            conn.executescript(f"BEGIN IMMEDIATE; {ADDED_INDEXES} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        # Autocommit: each write is one statement, so each is its own short transaction.
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None,
                               check_same_thread=check_same_thread)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def execute(self, sql: str, params: tuple) -> list[tuple]:
        with self._said(), closing(self._connect()) as conn:
            return conn.execute(_sqlite_sql(sql), params).fetchall()

    def execute_together(self, statements: Iterable[tuple[str, tuple]], guard: Guard | None = None) -> list[int]:
        with self._said(), closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                counts = [conn.execute(_sqlite_sql(sql), params).rowcount for sql, params in statements]
                if guard:
                    _check(guard, conn.execute(_sqlite_sql(guard[0]), guard[1]).fetchone())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return counts

    @contextmanager
    def _said(self):
        """SQLite's operational errors (a lock held too long, a read-only file, a full disk) as a sentence."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            why = ("the file is read-only, so nothing new can be saved" if "readonly" in text else
                   "another program is holding it locked" if "locked" in text else
                   "the disk that holds it is full" if "full" in text else text)
            raise StoreUnavailable(f"The progress database can't be used right now: {why}.") from None

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
        self._unreachable = psycopg.OperationalError  # refused, dropped by a restart, or no connection in time
        options = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}
        self._connect = functools.partial(psycopg.connect, url, **options)
        with self._said():
            self._connect().close()  # a server down: say so now, not after a pool timeout later
        # check: a connection the server dropped (a restart) is replaced, not handed to a page. The pool
        # reconnects by itself; with its default 5 minutes of ever longer waits between tries, answers
        # still failed 27 s after a 35 s outage had ended. Giving up a round of tries after POOL_WAIT_S
        # lets the next call try at once: the first answer after the restart is stored.
        self._pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, kwargs=options, timeout=POOL_WAIT_S,
                                    reconnect_timeout=POOL_WAIT_S, check=ConnectionPool.check_connection,
                                    open=True, name="fercore-store")
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
            if version < SCHEMA_VERSION:
                conn.execute(POSTGRES_SCHEMA)
                for table, columns in ADDED_COLUMNS.items():
                    for column, kind in columns.items():
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
                conn.execute(ADDED_INDEXES)
                conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))

    def execute(self, sql: str, params: tuple) -> list[tuple]:
        query, order = _postgres_sql(sql)
        with self._said(), self._pool.connection() as conn:
            cursor = conn.execute(query, [params[i] for i in order])
            return cursor.fetchall() if cursor.description else []

    def execute_together(self, statements: Iterable[tuple[str, tuple]], guard: Guard | None = None) -> list[int]:
        with self._said(), self._pool.connection() as conn, conn.transaction():
            counts = []
            for sql, params in statements:
                query, order = _postgres_sql(sql)
                counts.append(conn.execute(query, [params[i] for i in order]).rowcount)
            if guard:
                query, order = _postgres_sql(guard[0])
                _check(guard, conn.execute(query, [guard[1][i] for i in order]).fetchone())
            return counts

    @contextmanager
    def _said(self):
        try:
            yield
        except self._unreachable:
            raise StoreUnavailable("The progress database (PostgreSQL) is not answering right now.") from None

    def is_foreign_key(self, error: Exception) -> bool:
        return isinstance(error, self._foreign_key)

    def close(self) -> None:
        self._pool.close()
