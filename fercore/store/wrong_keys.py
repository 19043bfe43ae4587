"""Wrong keys per nickname and per session, class or deck code, kept in the database (the table wrong_keys),
so that every app server sharing it slows the same guesses down: see fercore.rate_limit."""
from __future__ import annotations

from fercore.rate_limit import Count


class StoredCounts:
    """fercore.rate_limit.Counts in the store's database. Only what exists is counted (a nickname that is
    registered, a code that was made), so the table holds at most a row for each."""

    def __init__(self, db):
        self._db = db

    def get(self, scope: str) -> Count | None:
        rows = self._db.execute("SELECT failures, last_at, tried FROM wrong_keys WHERE scope = ?", (scope,))
        return Count(*rows[0]) if rows else None

    def add_failure(self, scope: str, tried: str, now: float, forget_before: float) -> None:
        # rate_limit.counted as one upsert: wrong keys typed at the same moment on several servers all count.
        self._db.execute_together([
            ("INSERT INTO wrong_keys (scope, failures, last_at, tried) VALUES (?1, 1, ?2, ?3) "
             "ON CONFLICT (scope) DO UPDATE SET "
             "failures = CASE WHEN wrong_keys.last_at <= ?4 THEN 1 ELSE wrong_keys.failures + 1 END, "
             "last_at = ?2, tried = ?3 WHERE wrong_keys.tried <> ?3 OR wrong_keys.last_at <= ?4",
             (scope, now, tried, forget_before)),
            ("DELETE FROM wrong_keys WHERE last_at < ?", (forget_before,)),  # counts gone stale
        ])
