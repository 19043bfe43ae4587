"""Gentle milestones: quiet marks of practice done, per emotion. Faces read of an emotion (quiz answers whose
true label it is, FER2013's and decks', plus answers with people where the partner meant it) reaching 10, 25
and 50, and the first face of it read with people.

They count practice, not right answers, and take one learner's answers only: never a ranking, never a
comparison with others. Pure functions: no database, no Streamlit; the pages leave them out in "no scores"
mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from fercore.labels import EMOTIONS

FACES_READ_MARKS = (10, 25, 50)
FACES_READ = "faces read"
FIRST_WITH_PEOPLE = "first with people"


@dataclass(frozen=True)
class Milestone:
    emotion: str
    kind: str  # FACES_READ or FIRST_WITH_PEOPLE
    count: int  # the faces it marks: 10, 25 or 50 faces read; 1 for the first with people
    reached: bool


def milestones(quiz_faces: Mapping[str, int], with_people_faces: Mapping[str, int]) -> list[Milestone]:
    """Every mark for one learner, reached or not, in EMOTIONS order: for each emotion its faces-read marks,
    then its first with people. The counts are per emotion (Store.quiz_faces_by_emotion and
    with_people_faces_by_emotion)."""
    marks = []
    for emotion in EMOTIONS:
        read = quiz_faces.get(emotion, 0) + with_people_faces.get(emotion, 0)
        marks += [Milestone(emotion, FACES_READ, count, read >= count) for count in FACES_READ_MARKS]
        marks.append(Milestone(emotion, FIRST_WITH_PEOPLE, 1, with_people_faces.get(emotion, 0) >= 1))
    return marks


def reached(marks: Iterable[Milestone]) -> list[Milestone]:
    """Only the marks reached, in the order given."""
    return [mark for mark in marks if mark.reached]


def just_reached(emotion: str, faces_read: int) -> Milestone | None:
    """The faces-read mark of `emotion` that the latest face of it reached, if the learner's count of its faces
    read is exactly a mark now: what the quiz says quietly after that answer."""
    return Milestone(emotion, FACES_READ, faces_read, True) if faces_read in FACES_READ_MARKS else None
