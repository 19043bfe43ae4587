"""What the store hands out: answers (quiz answers and answers with people), tallies, periods of practice, sessions
and their reports, a learner's display choices. Frozen dataclasses, no database."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

import numpy as np


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
    deck: str | None = None  # the practice deck's code; None for a FER2013 face


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
class PeopleAnswer:
    """One guess while practising with a partner in the room; emotions are indices into fercore.labels.EMOTIONS.
    Nothing of the partner is kept: no picture, no name."""

    question_id: str  # one answer per question, however often sent
    game: str  # "guess": Guess the face
    intended: int  # the emotion the partner meant to show
    choice: int  # the learner's
    model_reading: int | None  # the model's top reading of the partner's face then; None: no face was found
    model_probability: float | None  # the model's probability of that reading

    @property
    def matched(self) -> bool:
        return self.choice == self.intended

    @property
    def model_matched(self) -> bool:
        return self.model_reading == self.intended


@dataclass(frozen=True)
class StoredPeopleAnswer(PeopleAnswer):
    id: int
    learner: str
    session: str | None
    answered_at: datetime


@dataclass(frozen=True)
class PeopleTally:
    """Answers with people of one intended emotion: faces read, and how many the learner's choice and the
    model's reading matched what the partner meant."""

    faces: int
    matched: int
    model_matched: int

    @classmethod
    def of(cls, answers: Iterable[PeopleAnswer]) -> PeopleTally:
        answers = list(answers)
        return cls(len(answers), sum(a.matched for a in answers), sum(a.model_matched for a in answers))


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
    deck: str | None = None  # the practice deck it runs on; None: FER2013's faces
    class_code: str | None = None  # the class it is run in, if any
    deck_deleted: bool = False  # its deck's owner deleted the deck: its answers stay, its faces are gone


@dataclass(frozen=True)
class Classroom:
    """A class that lasts: sessions are run in it, and its educator follows the learners who joined."""

    code: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    classroom: Classroom
    joined_at: datetime  # the class's educator sees the learner's answers from then on


@dataclass(frozen=True)
class Focus:
    """A next step an educator sets for one learner or the whole class."""

    classroom: Classroom
    learner: str | None  # None: the whole class
    emotions: tuple[str, ...]
    level: int
    note: str
    set_at: datetime
    deck: tuple[str, str] | None = None  # (code, name) of a practice deck to practise on


@dataclass(frozen=True)
class ClassMember:
    """One learner as the class's educator sees them: only answers since joining, in the class's sessions or
    on their own."""

    name: str
    joined_at: datetime
    answers: list[StoredAnswer]  # oldest first
    focus: Focus | None  # set for this learner alone
    with_people: dict[str, PeopleTally] = field(default_factory=dict)  # by intended emotion, in EMOTIONS order


@dataclass(frozen=True)
class ClassView:
    classroom: Classroom
    members: list[ClassMember]  # by name, never by score
    focus: Focus | None  # set for the whole class
    sessions: list[Session]  # run in the class, newest first


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
    with_people: dict[str, PeopleTally] = field(default_factory=dict)  # the session's, by intended emotion


@dataclass(frozen=True)
class Deck:
    """A practice deck: faces from an educator's or a family's own photos, opened by its code."""

    code: str
    name: str
    created_at: datetime
    faces: int
    version: str = ""  # changes whenever a face is added, removed or relabelled: what a quiz pool is cached by


@dataclass(frozen=True)
class DeckFace:
    id: int
    label: int  # the owner's label, an index into EMOTIONS
    crop: bytes  # the levelled face in colour (JPEG)
    reading: bytes  # its 48x48 grayscale copy (PNG), what the model reads
    model: str | None = None  # the digest of the model whose probabilities are kept with it
    readings: bytes | None = None  # that model's 7 probabilities, float32
