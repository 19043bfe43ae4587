"""Practice with people: a learner guesses the emotion a partner in the room shows. Each guess is an answer
with people, kept apart from the quiz's answers (FER2013's and decks'): the learner's choice, the emotion the
partner meant and the model's reading of the partner's face then. The partner is nobody's account: no
picture and nothing about them is kept. Part of the Store (a mixin), as classrooms is."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable

from fercore.labels import EMOTIONS
from fercore.store.errors import StoreError, UnknownSessionCode
from fercore.store.identity import normalize_code
from fercore.store.records import PeopleAnswer, PeopleTally, StoredPeopleAnswer

GAMES = ("guess",)  # Guess the face


class WithPeople:
    """The Store's methods for answers with people; they use the Store's _db, _execute and _kept_name."""

    def record_with_people(self, learner: str, answer: PeopleAnswer, session: str | None = None,
                           at: datetime | None = None) -> bool:
        """Save an answer with people; returns whether it was new. As with the quiz's answers, the first
        answer to a question id is kept whatever is sent again with it, so a retry stores nothing twice."""
        if answer.game not in GAMES:
            raise StoreError(f"There is no game called {answer.game!r} to practise with people.")
        if not answer.question_id:
            raise StoreError("An answer with people needs the id of its question.")
        session = normalize_code(session) if session else None
        at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        try:
            inserted = self._execute(
                "INSERT INTO answers_with_people (answered_at, learner, session, question_id, game, intended, choice, "
                "model_reading, model_probability) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (question_id) DO NOTHING RETURNING id",
                (at.isoformat(), self._kept_name(learner), session, answer.question_id, answer.game,
                 int(answer.intended), int(answer.choice), _int_or_none(answer.model_reading),
                 _float_or_none(answer.model_probability)))
        except self._db.IntegrityError as exc:
            if session and self._db.is_foreign_key(exc):
                raise UnknownSessionCode(f"There is no session with the code {session}.") from None
            raise StoreError(f"That answer could not be saved ({exc}).") from None
        return bool(inserted)

    def answers_with_people(self, learner: str) -> list[StoredPeopleAnswer]:
        """The learner's answers with people, oldest first."""
        return self._answers_with_people("NOCASE(learner) = NOCASE(?)", (self._kept_name(learner),))

    def with_people_by_emotion(self, learner: str) -> dict[str, PeopleTally]:
        """Per emotion the partner meant: faces read, and how many the learner and the model matched."""
        return _people_by_emotion(self.answers_with_people(learner))

    def with_people_faces_by_emotion(self, learner: str) -> dict[str, int]:
        """Per emotion the partner meant, the faces the learner has read with people (counted by the database)."""
        rows = self._execute("SELECT intended, COUNT(*) FROM answers_with_people WHERE NOCASE(learner) = NOCASE(?) "
                             "GROUP BY intended", (self._kept_name(learner),))
        return {EMOTIONS[intended]: count for intended, count in rows}

    def _answers_with_people(self, where: str, params: tuple) -> list[StoredPeopleAnswer]:
        columns = ("question_id, game, intended, choice, model_reading, model_probability, id, learner, session, "
                   "answered_at")
        rows = self._execute(f"SELECT {columns} FROM answers_with_people WHERE {where} ORDER BY id", params)
        return [StoredPeopleAnswer(*row[:-1], datetime.fromisoformat(row[-1])) for row in rows]


def _people_by_emotion(answers: Iterable[PeopleAnswer]) -> dict[str, PeopleTally]:
    """A tally per intended emotion, in EMOTIONS order, only the emotions shown."""
    groups = defaultdict(list)
    for a in answers:
        groups[EMOTIONS[a.intended]].append(a)
    return {e: PeopleTally.of(groups[e]) for e in EMOTIONS if e in groups}


# numpy's numbers (a model's output) are not what the database drivers take
def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)
