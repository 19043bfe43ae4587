"""The Store: learners' answers and educators' sessions in one SQLite file or one PostgreSQL database,
shared by threads and processes (several app servers share a PostgreSQL database: docs/deploy.md).

A learner is a nickname and a personal key (random, shown once, only its hash kept): the pages open a
learner's answers only after `sign_in`. A practice deck is a set of labelled face crops with a share code
and an owner token (only its hash kept); answers on a deck carry its code and are kept apart from FER2013
answers. Answers, sessions and decks older than the retention period (FER_RETENTION_DAYS, default 180)
are deleted.
"""
from __future__ import annotations

import csv
import hmac
import io
import os
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from fercore.labels import EMOTIONS
from fercore.store.backends import _Postgres, _SQLite, default_db_path, is_postgres_url
from fercore.store.classrooms import Classrooms
from fercore.store.errors import (NicknameTaken, StoreError, StoreUnavailable, UnknownClassCode, UnknownDeckCode,
                                  UnknownSessionCode, WrongEducatorToken, WrongLearnerKey, WrongOwnerToken)
from fercore.store.identity import (CODE_LENGTH, KEY_GROUPS, TOKEN_GROUPS, _hash, _random_text, fold, normalize_code,
                                    normalize_nickname)
from fercore.store.records import (Answer, Classroom, Deck, DeckFace, DisplayChoices, Period, Session, SessionReport,
                                   SessionResult, StoredAnswer, Tally, YouVsModel)
from fercore.store.statistics import _by_emotion, _days, _most_missed, _period, _sittings, confusion_matrix

RETENTION_DAYS = 180
SESSION_NAME_MAX = 60  # shown on every learner's screen: a line, not a paragraph
DECK_FACES_MAX = 500
CROP_BYTES_MAX = 256 * 1024  # a face crop, never a whole photo: a 20 MB photo can't slip in as a "crop"
CSV_COLUMNS = ("answered_at", "learner", "face_id", "true_label", "guess", "model_guess", "correct",
               "model_correct", "level", "session", "session_name")
CSV_TIME = "%Y-%m-%d %H:%M:%S"  # the server's local time, a form spreadsheets read as a date


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


class Store(Classrooms):
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
        """Delete the learner, their answers, display choices and places in classes; returns how many
        answers went."""
        name = self.sign_in(nickname, key)
        answers, *_ = self._execute_together(("DELETE FROM answers WHERE NOCASE(learner) = NOCASE(?)", (name,)),
                                             ("DELETE FROM display_choices WHERE NOCASE(learner) = NOCASE(?)",
                                              (name,)),
                                             ("DELETE FROM focuses WHERE learner = ?", (name.casefold(),)),
                                             ("DELETE FROM class_members WHERE learner = ?", (name.casefold(),)),
                                             ("DELETE FROM learners WHERE folded = ?", (name.casefold(),)))
        return answers

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
            # A nickname keeps the spelling it was first given, whatever case is typed later.
            inserted = self._execute(
                "INSERT INTO answers (answered_at, learner, session, face_id, true_label, guess, model_guess, level, "
                "question_id, deck) "
                "VALUES (?1, COALESCE((SELECT learner FROM answers WHERE NOCASE(learner) = NOCASE(?2) LIMIT 1), ?2), "
                "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (question_id) DO NOTHING RETURNING id",
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
        where = ("id = ?", (inserted[0][0],)) if inserted else ("question_id = ?", (question_id,))
        return self._answers(*where)[0]

    def answers(self, learner: str, limit: int | None = None, deck: str | None = None) -> list[StoredAnswer]:
        """The learner's answers on FER2013's faces, or with deck on that deck's, oldest first; with limit,
        only the latest that many."""
        return self._answers("NOCASE(learner) = NOCASE(?) AND COALESCE(deck, '') = ?",
                             (self._kept_name(learner), normalize_code(deck) if deck else ""), limit)

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

    # Owners: practice decks

    def create_deck(self, name: str) -> tuple[Deck, str]:
        """A new, empty deck and its owner token; show the token once, only its hash is kept."""
        name = " ".join(str(name).split())
        if not name or len(name) > SESSION_NAME_MAX:
            raise StoreError(f"A deck needs a name of 1 to {SESSION_NAME_MAX} characters.")
        self.expire(retention_days())
        token = "-".join(_random_text(4) for _ in range(TOKEN_GROUPS))
        created = datetime.now(timezone.utc)
        code = self._insert_under_new_code("INSERT INTO decks VALUES (?, ?, ?, ?)", (name, _hash(token),
                                                                                    created.isoformat()))
        return Deck(code, name, created, 0), token

    def open_deck(self, code: str) -> Deck:
        code = normalize_code(code)
        rows = self._execute("SELECT code, name, created_at, COUNT(id), COALESCE(MAX(id), 0), "
                             "COALESCE(SUM(id * (label + 1)), 0) FROM decks LEFT JOIN deck_faces ON deck = code "
                             "WHERE code = ? GROUP BY code, name, created_at", (code,))
        if not rows:
            raise UnknownDeckCode(_deck_gone(code))
        code, name, created_at, faces, newest, labels = rows[0]
        return Deck(code, name, datetime.fromisoformat(created_at), faces, f"{faces}-{newest}-{labels}")

    def deck_faces(self, code: str) -> list[DeckFace]:
        """Every face of the deck, oldest first: anyone with the code may practise on them."""
        deck = self.open_deck(code)
        rows = self._execute("SELECT id, label, crop, reading, model, readings FROM deck_faces WHERE deck = ? "
                             "ORDER BY id", (deck.code,))
        return [DeckFace(id, label, bytes(crop), bytes(reading), model, readings and bytes(readings))
                for id, label, crop, reading, model, readings in rows]

    def keep_deck_readings(self, code: str, model: str, readings: dict[int, bytes]) -> None:
        """A model's probabilities for the deck's faces (face id -> 7 float32), so the next quiz on the deck
        needs no model run. Derived from the faces, so no token: the server computes them."""
        self._execute_together(*[("UPDATE deck_faces SET model = ?, readings = ? WHERE id = ? AND deck = ?",
                                  (model, values, int(face_id), normalize_code(code)))
                                 for face_id, values in readings.items()])

    def add_deck_faces(self, code: str, token: str, faces: Iterable[tuple[int, bytes, bytes]],
                       permission: bool = False) -> int:
        """Add (label, colour crop, 48x48 reading copy) faces, all of them or none; returns how many.
        permission: the owner confirmed the people shown agreed."""
        deck, faces = self.owned_deck(code, token), list(faces)
        if not permission:
            raise StoreError("Confirm that you have the permission of the people shown before adding their faces.")
        if any(not 0 <= label < len(EMOTIONS) or len(crop) > CROP_BYTES_MAX for label, crop, _ in faces):
            raise StoreError("Only face crops with one of the seven emotions can be added to a deck.")
        if deck.faces + len(faces) > DECK_FACES_MAX:
            raise StoreError(_deck_full(deck.faces, len(faces)))
        added = datetime.now(timezone.utc).isoformat()
        # The first statement locks the deck's row (PostgreSQL), so two owners adding at once are counted in turn.
        self._execute_together(
            ("UPDATE decks SET name = name WHERE code = ?", (deck.code,)),
            *[("INSERT INTO deck_faces (deck, label, crop, reading, added_at) VALUES (?, ?, ?, ?, ?)",
               (deck.code, int(label), crop, reading, added)) for label, crop, reading in faces],
            guard=("SELECT COUNT(*) <= ? FROM deck_faces WHERE deck = ?", (DECK_FACES_MAX, deck.code),
                   _deck_full(deck.faces, len(faces))))
        return len(faces)

    def relabel_deck_face(self, code: str, token: str, face_id: int, label: int) -> None:
        deck = self.owned_deck(code, token)
        if not 0 <= label < len(EMOTIONS):
            raise StoreError(f"Choose one of the seven emotions: {', '.join(EMOTIONS)}.")
        self._execute("UPDATE deck_faces SET label = ? WHERE id = ? AND deck = ?",
                      (int(label), int(face_id), deck.code))

    def remove_deck_face(self, code: str, token: str, face_id: int) -> None:
        deck = self.owned_deck(code, token)
        self._execute("DELETE FROM deck_faces WHERE id = ? AND deck = ?", (int(face_id), deck.code))

    def delete_deck(self, code: str, token: str) -> int:
        """Delete the deck, its faces, the class sessions run on it and every answer given on it, for good;
        returns how many faces went."""
        deck = self.owned_deck(code, token)
        on_deck = "SELECT code FROM sessions WHERE deck = ?1"
        *_, faces, _ = self._execute_together(
            (f"DELETE FROM answers WHERE deck = ?1 OR session IN ({on_deck})", (deck.code,)),
            ("DELETE FROM sessions WHERE deck = ?", (deck.code,)),
            ("DELETE FROM deck_faces WHERE deck = ?", (deck.code,)),
            ("DELETE FROM decks WHERE code = ?", (deck.code,)))
        return faces

    def owned_deck(self, code: str, token: str | None) -> Deck:
        deck = self.open_deck(code)
        (stored,) = self._execute("SELECT token_hash FROM decks WHERE code = ?", (deck.code,))[0]
        if not token or not hmac.compare_digest(_hash(token), stored):
            raise WrongOwnerToken(f"That owner token does not open deck {deck.code}.")
        return deck

    # Retention

    def expire(self, days: int, now: datetime | None = None) -> tuple[int, int]:
        """Delete answers, sessions and decks older than `days` (a session's or a deck's answers and a deck's
        faces go with it), classes unused that long (nobody joined, no session run, no next step set), and
        learners registered that long ago who have no answers left. Returns (answers, sessions) deleted."""
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).astimezone(timezone.utc).isoformat()
        old_sessions = "SELECT code FROM sessions WHERE created_at < ?1"
        old_decks = "SELECT code FROM decks WHERE created_at < ?1"
        idle_learners = "created_at < ?1 AND name NOT IN (SELECT learner FROM answers)"
        idle_classes = ("created_at < ?1 "
                        "AND code NOT IN (SELECT class_code FROM class_members WHERE joined_at >= ?1) "
                        "AND code NOT IN (SELECT class_code FROM focuses WHERE set_at >= ?1) "
                        "AND code NOT IN (SELECT class_code FROM sessions WHERE class_code IS NOT NULL "
                        "AND created_at >= ?1)")
        answers, sessions, *_ = self._execute_together(
            (f"DELETE FROM answers WHERE answered_at < ?1 OR session IN ({old_sessions}) OR deck IN ({old_decks}) "
             f"OR session IN (SELECT code FROM sessions WHERE deck IN ({old_decks}))", (cutoff,)),
            (f"DELETE FROM sessions WHERE created_at < ?1 OR deck IN ({old_decks})", (cutoff,)),
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
        rows = self._execute("SELECT code, name, emotions, questions, level, created_at, deck, class_code "
                             f"FROM sessions WHERE {where} ORDER BY created_at DESC", params)
        return [Session(code, name, tuple(emotions.split(",")), questions, level, datetime.fromisoformat(created),
                        deck, class_code) for code, name, emotions, questions, level, created, deck, class_code in rows]

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


def _deck_gone(code: str) -> str:
    return (f"There is no deck with the code {code or '(empty)'}: it may have been deleted. "
            "Check the code with whoever made the deck.")


def _deck_full(has: int, adding: int) -> str:
    return (f"A deck holds at most {DECK_FACES_MAX} faces: this one has {has}, so these {adding} were not added. "
            "Remove some faces or start another deck.")
