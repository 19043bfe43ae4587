"""The Store: learners' answers, educators' sessions and classes, and practice decks in one SQLite file or
one PostgreSQL database, shared by threads and processes (several app servers share a PostgreSQL database:
docs/deploy.md). Classes, decks and answers with people have modules of their own (classrooms, practice_decks,
with_people), mixed in here.

A learner is a nickname and a personal key (random, shown once, only its hash kept): the pages open a
learner's answers only after `sign_in`. Answers, sessions and decks older than the retention period
(FER_RETENTION_DAYS, default 180) are deleted, and classes unused that long.
"""
from __future__ import annotations

import hmac
import os
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from fercore.labels import EMOTIONS
from fercore.rate_limit import FREE_TRIES, TOKEN_FREE_TRIES, Guard, Limiter, client_guard, try_key
from fercore.spreadsheet import csv_text
from fercore.store.backends import _Postgres, _SQLite, default_db_path, is_postgres_url
from fercore.store.classrooms import Classrooms
from fercore.store.errors import (NicknameTaken, StoreError, StoreUnavailable, UnknownDeckCode, UnknownSessionCode,
                                  WrongEducatorToken, WrongLearnerKey)
from fercore.store.identity import (CODE_LENGTH, KEY_GROUPS, TOKEN_GROUPS, _hash, _random_text, fold,
                                    look_alike_keys, normalize_code, normalize_nickname)
from fercore.store.practice_decks import PracticeDecks, _deck_gone
from fercore.store.records import (Answer, DisplayChoices, Period, Session, SessionReport, SessionResult, StoredAnswer,
                                   Tally, YouVsModel)
from fercore.store.retention import retention_days
from fercore.store.statistics import _by_emotion, _days, _most_missed, _period, _sittings, confusion_matrix
from fercore.store.with_people import WithPeople, _people_by_emotion
from fercore.store.wrong_keys import StoredCounts

SESSION_NAME_MAX = 60  # shown on every learner's screen: a line, not a paragraph
CSV_COLUMNS = ("answered_at", "learner", "face_id", "true_label", "guess", "model_guess", "correct",
               "model_correct", "level", "session", "session_name")
CSV_TIME = "%Y-%m-%d %H:%M:%S"  # the server's local time, a form spreadsheets read as a date


class Store(Classrooms, PracticeDecks, WithPeople):
    def __init__(self, path: str | os.PathLike | None = None, busy_timeout: float | None = None):
        """path: a SQLite file, or a PostgreSQL URL (postgresql://user@host/db); default FER_DB.
        busy_timeout: seconds a SQLite write waits for another program's lock before it says so (default
        backends.BUSY_TIMEOUT_S)."""
        location = path or default_db_path()
        if is_postgres_url(location):
            self.path, self._db = location, _Postgres(location)  # path: the URL
        else:
            self.path = Path(location)
            self._db = _SQLite(self.path, busy_timeout)
        self._db.upgrade()
        self.key_tries = Limiter(StoredCounts(self._db))  # wrong keys per nickname and code: fercore.rate_limit
        try:
            self.expire(retention_days())
        except StoreUnavailable:  # read-only or locked now: what is kept can still be read; expired next time
            pass

    def close(self) -> None:
        """Let go of the database's connections now rather than when the Store is collected."""
        self._db.close()

    # Learners: who they are

    def register_learner(self, nickname: str) -> tuple[str, str]:
        """A new learner: returns the nickname as kept and their key (show it once; only its hash is kept).
        Answers saved under the nickname before keys existed go to whoever registers it first."""
        name = normalize_nickname(nickname)
        earlier = self._execute("SELECT learner FROM answers WHERE NOCASE(learner) = NOCASE(?) LIMIT 1", (name,))
        name = earlier[0][0] if earlier else name
        self._refuse_look_alike(name)
        key = "-".join(_random_text(4) for _ in range(KEY_GROUPS))
        try:
            self._execute("INSERT INTO learners (folded, name, key_hash, created_at, look, look_folded) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (name.casefold(), name, _hash(key),
                                                        datetime.now(timezone.utc).isoformat(), *look_alike_keys(name)))
        except self._db.IntegrityError:
            raise NicknameTaken(f"The nickname {name} is taken. If it is yours, type your key; "
                                "if not, choose another nickname.") from None
        return name, key

    def is_registered(self, nickname: str) -> bool:
        return bool(self._execute("SELECT 1 FROM learners WHERE folded = ?", (fold(nickname),)))

    def sign_in(self, nickname: str, key: str) -> str:
        """The nickname as kept, when the key opens it; raises WrongLearnerKey otherwise, and TooManyTries while
        wrong keys for the nickname or from the client must wait (fercore.rate_limit)."""
        name = normalize_nickname(nickname)
        rows = self._execute("SELECT name, key_hash FROM learners WHERE folded = ?", (name.casefold(),))
        if not self._key_opens(f"learner:{name.casefold()}", key, rows[0][1] if rows else None,
                               "Too many wrong keys for this nickname.", FREE_TRIES):
            raise WrongLearnerKey(f"That key does not open the nickname {name}. Check the key, "
                                  "or choose another nickname.")
        return rows[0][0]

    def forget_learner(self, nickname: str, key: str) -> int:
        """Delete the learner, their answers (the quiz's and with people), display choices and places in classes;
        returns how many answers went."""
        name = self.sign_in(nickname, key)
        answers, with_people, *_ = self._execute_together(
            ("DELETE FROM answers WHERE NOCASE(learner) = NOCASE(?)", (name,)),
            ("DELETE FROM answers_with_people WHERE NOCASE(learner) = NOCASE(?)", (name,)),
            ("DELETE FROM display_choices WHERE NOCASE(learner) = NOCASE(?)", (name,)),
            ("DELETE FROM focuses WHERE learner = ?", (name.casefold(),)),
            ("DELETE FROM class_members WHERE learner = ?", (name.casefold(),)),
            ("DELETE FROM learners WHERE folded = ?", (name.casefold(),)))
        return answers + with_people

    def _refuse_look_alike(self, name: str) -> None:
        """NicknameTaken when name looks like a taken nickname other than itself (itself is simply taken).
        Two look-alikes registered in the same instant could both pass: too narrow a gap to aim at."""
        self._add_missing_looks()
        look, look_folded = look_alike_keys(name)
        rows = self._execute("SELECT name FROM learners WHERE (look = ? OR look_folded = ?) AND folded <> ? LIMIT 1",
                             (look, look_folded, name.casefold()))
        if rows:
            raise NicknameTaken(f"The nickname {name} looks just like {rows[0][0]}, which is taken: "
                                "choose another nickname.")

    def _add_missing_looks(self) -> None:
        """Learners registered before look-alikes were compared get their look-alike keys, once."""
        for folded, name in self._execute("SELECT folded, name FROM learners WHERE look IS NULL"):
            self._execute("UPDATE learners SET look = ?, look_folded = ? WHERE folded = ?",
                          (*look_alike_keys(name), folded))

    def _kept_name(self, nickname: str) -> str:
        """The nickname as registered (any case typed), else as typed."""
        name = normalize_nickname(nickname)
        rows = self._execute("SELECT name FROM learners WHERE folded = ?", (name.casefold(),))
        return rows[0][0] if rows else name

    # Learners: their answers

    def record(self, learner: str, answer: Answer, session: str | None = None,
               at: datetime | None = None, question_id: str | None = None, deck: str | None = None) -> StoredAnswer:
        """Save an answer; returns it as stored. question_id: the question answered. The first answer
        to a question is kept and returned whatever is sent again with that id, so a retry after a
        failure the database may still have committed (a dropped connection) stores nothing twice.
        deck: the code of the practice deck the face came from."""
        learner = self._kept_name(learner)
        session = normalize_code(session) if session else None
        deck = normalize_code(deck) if deck else None
        at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        try:
            # A nickname keeps the spelling it was first given, whatever case is typed later. A deck its owner
            # deleted keeps its row for the sessions run on it (practice_decks.delete_deck): nothing is added.
            inserted = self._execute(
                "INSERT INTO answers (answered_at, learner, session, face_id, true_label, guess, model_guess, level, "
                "question_id, deck) "
                "SELECT ?1, COALESCE((SELECT learner FROM answers WHERE NOCASE(learner) = NOCASE(?2) LIMIT 1), ?2), "
                "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE CAST(?10 AS TEXT) IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM decks WHERE code = ?10 AND deleted_at IS NOT NULL) "
                "ON CONFLICT (question_id) DO NOTHING RETURNING id",
                (at.isoformat(), learner, session, answer.face_id, int(answer.true_label), int(answer.guess),
                 int(answer.model_guess), int(answer.level), question_id, deck),
            )
        except self._db.IntegrityError as exc:
            if deck and self._db.is_foreign_key(exc) and not self._execute("SELECT 1 FROM decks WHERE code = ?",
                                                                              (deck,)):
                raise UnknownDeckCode(_deck_gone(deck)) from None
            if session and self._db.is_foreign_key(exc):
                raise UnknownSessionCode(f"There is no session with the code {session}.") from None
            raise StoreError(f"That answer could not be saved ({exc}).") from None
        if inserted:
            return self._answers("id = ?", (inserted[0][0],))[0]
        kept = self._answers("question_id = ?", (question_id,)) if question_id else []
        if not kept:  # refused: its deck was deleted
            raise UnknownDeckCode(_deck_gone(deck))
        return kept[0]

    def answers(self, learner: str, limit: int | None = None, deck: str | None = None) -> list[StoredAnswer]:
        """The learner's answers on FER2013's faces, or with deck on that deck's, oldest first; with limit,
        only the latest that many."""
        return self._answers("NOCASE(learner) = NOCASE(?) AND COALESCE(deck, '') = ?",
                             (self._kept_name(learner), normalize_code(deck) if deck else ""), limit)

    def quiz_faces_by_emotion(self, learner: str) -> dict[str, int]:
        """Per emotion (the face's label), the faces the learner has answered on the quiz: FER2013's and every
        deck's. Counted by the database: a long history is not loaded for it."""
        rows = self._execute("SELECT true_label, COUNT(*) FROM answers WHERE NOCASE(learner) = NOCASE(?) "
                             "GROUP BY true_label", (self._kept_name(learner),))
        return {EMOTIONS[label]: count for label, count in rows}

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

    def streak(self, learner: str, deck: str | None = None) -> int:
        """How many answers in a row, up to the latest, were right (on FER2013, or on the deck)."""
        mine = "NOCASE(learner) = NOCASE(?1) AND COALESCE(deck, '') = ?2"
        (count,) = self._execute(
            f"SELECT COUNT(*) FROM answers WHERE {mine} AND id > "
            f"(SELECT COALESCE(MAX(id), 0) FROM answers WHERE {mine} AND guess != true_label)",
            (self._kept_name(learner), normalize_code(deck) if deck else ""),
        )[0]
        return count

    def you_vs_model(self, learner: str) -> YouVsModel:
        outcomes = Counter((a.correct, a.model_correct) for a in self.answers(learner))
        return YouVsModel(outcomes[True, True], outcomes[True, False], outcomes[False, True], outcomes[False, False])

    def session_result(self, learner: str, code: str) -> SessionResult:
        answers = self._answers("NOCASE(learner) = NOCASE(?) AND session = ?",
                                (self._kept_name(learner), normalize_code(code)))
        return SessionResult(Tally.of(answers), _by_emotion(answers), _most_missed(answers))

    # Educators: class sessions

    def create_session(self, name: str, emotions: Iterable[str], questions: int, level: int,
                       deck: str | None = None, class_code: str | None = None,
                       class_token: str | None = None) -> tuple[Session, str]:
        """A new session and its educator token; show the token once, only its hash is kept. deck: the code
        of a practice deck whose faces the session shows instead of FER2013's. Run in a class (class_code and
        its token), the class's token opens the session too."""
        name, emotions = " ".join(str(name).split()), set(emotions)
        deck = self.open_deck(deck).code if deck else None
        chosen = tuple(e for e in EMOTIONS if e in emotions)
        if not name or emotions - set(EMOTIONS) or not chosen or questions < 1 or level < 1:
            raise StoreError("A session needs a name, at least one of the seven emotions, "
                             "one or more questions and a level.")
        if len(name) > SESSION_NAME_MAX:
            raise StoreError(f"A session name can have at most {SESSION_NAME_MAX} characters: it is shown "
                             "on every learner's screen.")
        self.expire(retention_days())  # a long-running server expires old data as new sessions start
        in_class = self._authorize_class(class_code, class_token).code if class_code else None
        token = class_token if in_class else "-".join(_random_text(4) for _ in range(TOKEN_GROUPS))
        created = datetime.now(timezone.utc)
        code = self._insert_under_new_code(
            "INSERT INTO sessions (code, name, emotions, questions, level, token_hash, created_at, deck, class_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, ",".join(chosen), int(questions), int(level), _hash(token), created.isoformat(), deck, in_class))
        return Session(code, name, chosen, int(questions), int(level), created, deck, in_class), token

    def join_session(self, code: str) -> Session:
        sessions = self._sessions("code = ?", (normalize_code(code),))
        if not sessions:
            raise UnknownSessionCode(f"There is no session with the code {normalize_code(code) or '(empty)'}. "
                                     "Check the code with your educator.")
        return sessions[0]

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
            _people_by_emotion(self._answers_with_people("session = ?", (session.code,))),
        )

    def export_csv(self, code: str, token: str) -> str:
        """Every answer of the session as CSV text with a header row, emotions by name."""
        session = self._authorize(code, token)
        return csv_text(CSV_COLUMNS, ([a.answered_at.astimezone().strftime(CSV_TIME), a.learner, a.face_id,
                                       EMOTIONS[a.true_label], EMOTIONS[a.guess], EMOTIONS[a.model_guess],
                                       int(a.correct), int(a.model_correct), a.level, a.session, session.name]
                                      for a in self._answers("session = ?", (session.code,))))

    def delete_session(self, code: str, token: str) -> int:
        """Delete the session and every answer in it; returns how many answers went."""
        session = self._authorize(code, token)
        answers, _ = self._execute_together(("DELETE FROM answers WHERE session = ?", (session.code,)),
                                            ("DELETE FROM sessions WHERE code = ?", (session.code,)))
        return answers

    def _authorize(self, code: str, token: str | None) -> Session:
        session = self.join_session(code)
        if not self._token_opens("sessions", session.code, token):
            raise WrongEducatorToken(f"That educator token does not open session {session.code}.")
        return session

    # Retention

    def expire(self, days: int, now: datetime | None = None) -> tuple[int, int]:
        """Delete answers (the quiz's and with people), sessions and decks older than `days` (a session's or a
        deck's answers and a deck's faces go with it), classes unused that long (nobody joined, no session run,
        no next step set), and learners registered that long ago who have no answers left. Returns (quiz answers,
        sessions) deleted."""
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).astimezone(timezone.utc).isoformat()
        old_sessions = "SELECT code FROM sessions WHERE created_at < ?1"
        old_decks = "SELECT code FROM decks WHERE created_at < ?1"
        idle_learners = ("created_at < ?1 AND name NOT IN (SELECT learner FROM answers) "
                         "AND NOCASE(name) NOT IN (SELECT NOCASE(learner) FROM answers_with_people)")
        idle_classes = ("created_at < ?1 "
                        "AND code NOT IN (SELECT class_code FROM class_members WHERE joined_at >= ?1) "
                        "AND code NOT IN (SELECT class_code FROM focuses WHERE set_at >= ?1) "
                        "AND code NOT IN (SELECT class_code FROM sessions WHERE class_code IS NOT NULL "
                        "AND created_at >= ?1)")
        answers, sessions, *_ = self._execute_together(
            (f"DELETE FROM answers WHERE answered_at < ?1 OR session IN ({old_sessions}) OR deck IN ({old_decks}) "
             f"OR session IN (SELECT code FROM sessions WHERE deck IN ({old_decks}))", (cutoff,)),
            (f"DELETE FROM sessions WHERE created_at < ?1 OR deck IN ({old_decks})", (cutoff,)),
            ("DELETE FROM answers_with_people WHERE answered_at < ?1", (cutoff,)),  # a session's went with it
            (f"DELETE FROM deck_faces WHERE deck IN ({old_decks})", (cutoff,)),
            ("DELETE FROM decks WHERE created_at < ?1", (cutoff,)),
            (f"DELETE FROM classes WHERE {idle_classes}", (cutoff,)),  # members and next steps go with it
            ("DELETE FROM display_choices WHERE NOCASE(learner) IN "
             f"(SELECT NOCASE(name) FROM learners WHERE {idle_learners})", (cutoff,)),
            (f"DELETE FROM focuses WHERE learner IN (SELECT folded FROM learners WHERE {idle_learners})", (cutoff,)),
            (f"DELETE FROM class_members WHERE learner IN (SELECT folded FROM learners WHERE {idle_learners})",
             (cutoff,)),
            (f"DELETE FROM learners WHERE {idle_learners}", (cutoff,)),
        )
        return answers, sessions

    # The database

    def _token_opens(self, table: str, code: str, token: str | None) -> bool:
        """Whether token is the one whose hash `table` (sessions, classes or decks) keeps for code; raises
        TooManyTries while wrong tokens for the code or from the client must wait."""
        (stored,) = self._execute(f"SELECT token_hash FROM {table} WHERE code = ?", (code,))[0]
        what = {"sessions": "educator tokens for this session", "classes": "educator tokens for this class",
                "decks": "owner tokens for this deck"}[table]
        return self._key_opens(f"{table}:{code}", token, stored, f"Too many wrong {what}.", TOKEN_FREE_TRIES)

    def _key_opens(self, scope: str, key: str | None, key_hash: str | None, refusal: str, free: int) -> bool:
        """Whether key's hash is key_hash (None: nothing to open, and nothing counted for the scope), once
        neither the scope's count nor the client's says wait; a wrong key adds to both."""
        return try_key(scope, normalize_code(key or ""),
                       lambda: bool(key and key_hash) and hmac.compare_digest(_hash(key), key_hash),
                       Guard(self.key_tries, scope if key_hash else None, refusal, free), client_guard())

    def _insert_under_new_code(self, sql: str, rest: tuple) -> str:
        """Insert a row whose first value is a new code, one that no session, class or deck has (a learner types
        any of them in the same box); returns it."""
        while True:
            code = _random_text(CODE_LENGTH)
            if self._execute("SELECT 1 FROM sessions WHERE code = ?1 UNION SELECT 1 FROM classes WHERE code = ?1 "
                             "UNION SELECT 1 FROM decks WHERE code = ?1", (code,)):
                continue
            try:
                self._execute(sql, (code, *rest))
                return code
            except self._db.IntegrityError:
                continue  # taken meanwhile: draw another

    def _sessions(self, where: str, params: tuple) -> list[Session]:
        """Sessions, newest first."""
        deck_deleted = "EXISTS (SELECT 1 FROM decks d WHERE d.code = sessions.deck AND d.deleted_at IS NOT NULL)"
        rows = self._execute("SELECT code, name, emotions, questions, level, created_at, deck, class_code, "
                             f"{deck_deleted} FROM sessions WHERE {where} ORDER BY created_at DESC", params)
        return [Session(code, name, tuple(emotions.split(",")), questions, level, datetime.fromisoformat(created),
                        deck, class_code, bool(deleted))
                for code, name, emotions, questions, level, created, deck, class_code, deleted in rows]

    def _answers(self, where: str, params: tuple, limit: int | None = None) -> list[StoredAnswer]:
        columns = "face_id, true_label, guess, model_guess, level, id, learner, session, answered_at, deck"
        sql = f"SELECT {columns} FROM answers WHERE {where} ORDER BY id DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, int(limit))
        rows = self._execute(sql, params)
        return [StoredAnswer(*row[:-2], datetime.fromisoformat(row[-2]), row[-1]) for row in reversed(rows)]

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, params)

    def _execute_together(self, *statements: tuple[str, tuple], guard: tuple[str, tuple, str] | None = None
                          ) -> list[int]:
        """Several writes as one transaction; returns each one's row count. guard: see backends.Guard."""
        return self._db.execute_together(statements, guard)

