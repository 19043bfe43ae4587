"""Classes that last: an educator's class (a join code and a private token), the learners who chose to
join it, and the next step the educator sets for a learner or the whole class. A learner's answers reach
the class's educator only from joining until leaving, and only those given on their own or in the class's
sessions. Part of the Store (a mixin): the same database, the same seam."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from fercore.labels import EMOTIONS
from fercore.store.errors import StoreError, UnknownClassCode, WrongEducatorToken
from fercore.store.identity import TOKEN_GROUPS, _hash, _random_text, fold, normalize_code
from fercore.store.records import ClassMember, Classroom, ClassView, Focus, Membership
from fercore.store.with_people import _people_by_emotion

CLASS_NAME_MAX = 60  # shown on learners' screens: a line, not a paragraph
NOTE_MAX = 500  # the educator's note on a next step: a few sentences
WHOLE_CLASS = ""  # focuses.learner for a next step set for everyone in the class
# A member's answers (the quiz's or with people) the class's educator sees: since joining, given alone or in
# the class's sessions. Parameters: the learner's name, when they joined, the class's code.
SINCE_JOINING = ("NOCASE(learner) = NOCASE(?) AND answered_at >= ? AND "
                 "(session IS NULL OR session IN (SELECT code FROM sessions WHERE class_code = ?))")


class Classrooms:
    """The Store's methods for classes; they use the Store's _execute, _answers, _answers_with_people and
    _sessions."""

    # Educators

    def create_class(self, name: str) -> tuple[Classroom, str]:
        """A new class and its educator token; show the token once, only its hash is kept."""
        name = " ".join(str(name).split())
        if not name:
            raise StoreError("A class needs a name.")
        if len(name) > CLASS_NAME_MAX:
            raise StoreError(f"A class name can have at most {CLASS_NAME_MAX} characters.")
        token = "-".join(_random_text(4) for _ in range(TOKEN_GROUPS))
        created = datetime.now(timezone.utc)
        code = self._insert_under_new_code("INSERT INTO classes (code, name, token_hash, created_at) "
                                           "VALUES (?, ?, ?, ?)", (name, _hash(token), created.isoformat()))
        return Classroom(code, name, created), token

    def class_view(self, code: str, token: str) -> ClassView:
        """Everything the class's educator may see: its learners in name order, each with their answers
        (the quiz's, and with people by emotion) since joining, on their own or in the class's sessions; the
        next steps set; the sessions run."""
        classroom = self._authorize_class(code, token)
        focuses = self._focuses(classroom)
        rows = self._execute("SELECT l.name, m.learner, m.joined_at FROM class_members m JOIN learners l "
                             "ON l.folded = m.learner WHERE m.class_code = ?", (classroom.code,))
        members = [self._class_member(classroom, name, joined, focuses.get(folded)) for name, folded, joined in rows]
        members.sort(key=lambda member: member.name.casefold())
        return ClassView(classroom, members, focuses.get(WHOLE_CLASS), self._sessions("class_code = ?",
                                                                                     (classroom.code,)))

    def _class_member(self, classroom: Classroom, name: str, joined: str, focus: Focus | None) -> ClassMember:
        since_joining = (name, joined, classroom.code)
        return ClassMember(name, datetime.fromisoformat(joined), self._answers(SINCE_JOINING, since_joining), focus,
                           _people_by_emotion(self._answers_with_people(SINCE_JOINING, since_joining)))

    def set_focus(self, code: str, token: str, emotions: Iterable[str], level: int, note: str = "",
                  learner: str | None = None, deck: str | None = None) -> Focus:
        """The next step for one learner of the class, or for the whole class (learner None); deck: the code
        of a practice deck to practise on."""
        classroom = self._authorize_class(code, token)
        deck = self.open_deck(deck) if deck else None
        emotions = set(emotions)
        chosen = tuple(e for e in EMOTIONS if e in emotions)
        note = " ".join(str(note).split())
        if not chosen or emotions - set(EMOTIONS) or level < 1:
            raise StoreError("A next step needs at least one of the seven emotions and a level.")
        if len(note) > NOTE_MAX:
            raise StoreError(f"A note can have at most {NOTE_MAX} characters.")
        who = self._member(classroom, learner) if learner else WHOLE_CLASS
        now = datetime.now(timezone.utc)
        values = (",".join(chosen), int(level), note, now.isoformat(), deck and deck.code)
        self._execute("INSERT INTO focuses VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (class_code, learner) "
                      "DO UPDATE SET emotions = ?3, level = ?4, note = ?5, set_at = ?6, deck = ?7",
                      (classroom.code, who, *values))
        return Focus(classroom, learner and self._kept_name(learner), chosen, int(level), note, now,
                     deck and (deck.code, deck.name))

    def clear_focus(self, code: str, token: str, learner: str | None = None) -> None:
        classroom = self._authorize_class(code, token)
        who = self._member(classroom, learner) if learner else WHOLE_CLASS
        self._execute("DELETE FROM focuses WHERE class_code = ? AND learner = ?", (classroom.code, who))

    def _authorize_class(self, code: str, token: str | None) -> Classroom:
        classroom = self.classroom(code)
        if not self._token_opens("classes", classroom.code, token):
            raise WrongEducatorToken(f"That educator token does not open class {classroom.code}.")
        return classroom

    def _member(self, classroom: Classroom, learner: str) -> str:
        folded = fold(learner)
        if not self._execute("SELECT 1 FROM class_members WHERE class_code = ? AND learner = ?",
                             (classroom.code, folded)):
            raise StoreError(f"{learner} is not in the class {classroom.name}.")
        return folded

    # Learners

    def classroom(self, code: str) -> Classroom:
        rows = self._execute("SELECT code, name, created_at FROM classes WHERE code = ?", (normalize_code(code),))
        if not rows:
            raise UnknownClassCode(f"There is no class with the code {normalize_code(code) or '(empty)'}. "
                                   "Check the code with your educator.")
        return _classroom(*rows[0])

    def join_class(self, learner: str, code: str) -> Membership:
        """The learner joins (once; joining again keeps the first date): the class's educator sees their
        answers from now on."""
        classroom = self.classroom(code)
        self._execute("INSERT INTO class_members VALUES (?, ?, ?) ON CONFLICT (class_code, learner) DO NOTHING",
                      (classroom.code, fold(learner), datetime.now(timezone.utc).isoformat()))
        return next(m for m in self.memberships(learner) if m.classroom.code == classroom.code)

    def memberships(self, learner: str) -> list[Membership]:
        """The classes whose educators see the learner's answers, the earliest joined first."""
        rows = self._execute("SELECT c.code, c.name, c.created_at, m.joined_at FROM class_members m JOIN classes c "
                             "ON c.code = m.class_code WHERE m.learner = ? ORDER BY m.joined_at", (fold(learner),))
        return [Membership(_classroom(*row[:3]), datetime.fromisoformat(row[3])) for row in rows]

    def leave_class(self, learner: str, code: str) -> None:
        """The class's educator no longer sees any of the learner's answers, nor a next step for them."""
        where = ("class_code = ? AND learner = ?", (normalize_code(code), fold(learner)))
        self._execute_together((f"DELETE FROM focuses WHERE {where[0]}", where[1]),
                               (f"DELETE FROM class_members WHERE {where[0]}", where[1]))

    def suggested_focus(self, learner: str) -> Focus | None:
        """The next step an educator set for this learner, else for one of their classes; the newest first."""
        folded = fold(learner)
        rows = self._execute(
            "SELECT c.code, c.name, c.created_at, f.learner, f.emotions, f.level, f.note, f.set_at, d.code, d.name "
            "FROM focuses f JOIN class_members m ON m.class_code = f.class_code AND m.learner = ?1 "
            "JOIN classes c ON c.code = f.class_code LEFT JOIN decks d ON d.code = f.deck "
            "WHERE f.learner IN (?1, '') "
            "ORDER BY f.learner = '', f.set_at DESC LIMIT 1", (folded,))
        return self._focus(*rows[0]) if rows else None

    def _focuses(self, classroom: Classroom) -> dict[str, Focus]:
        """The class's next steps by learners.folded, WHOLE_CLASS for everyone."""
        rows = self._execute("SELECT f.learner, f.emotions, f.level, f.note, f.set_at, d.code, d.name FROM focuses f "
                             "LEFT JOIN decks d ON d.code = f.deck WHERE f.class_code = ?", (classroom.code,))
        return {row[0]: self._focus(classroom.code, classroom.name, classroom.created_at.isoformat(), *row)
                for row in rows}

    def _focus(self, code, name, created_at, learner, emotions, level, note, set_at, deck, deck_name) -> Focus:
        return Focus(_classroom(code, name, created_at), self._kept_name(learner) if learner else None,
                     tuple(emotions.split(",")), level, note, datetime.fromisoformat(set_at),
                     (deck, deck_name) if deck else None)


def _classroom(code: str, name: str, created_at: str) -> Classroom:
    return Classroom(code, name, datetime.fromisoformat(created_at))
