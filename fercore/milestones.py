"""Gentle milestones: quiet marks of practice done, per emotion. Faces read of an emotion (quiz answers whose
true label it is, FER2013's and decks', plus answers with people where the partner meant it) reaching 10, 25
and 50, and the first face of it read with people.

They count practice, not right answers, and take one learner's answers only: never a ranking, never a
comparison with others. Pure functions: no database, no Streamlit; the pages leave them out in "no scores"
mode.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from fercore.labels import EMOTIONS
from fercore.store.records import Answer, PeopleAnswer

FACES_READ_MARKS = (10, 25, 50)
FACES_READ = "faces read"
FIRST_WITH_PEOPLE = "first with people"


@dataclass(frozen=True)
class Milestone:
    emotion: str
    kind: str  # FACES_READ or FIRST_WITH_PEOPLE
    count: int  # the faces it marks: 10, 25 or 50 faces read; 1 for the first with people
    reached: bool


def milestones(answers: Iterable[Answer], with_people: Iterable[PeopleAnswer]) -> list[Milestone]:
    """Every mark for one learner, reached or not, in EMOTIONS order: for each emotion its faces-read marks,
    then its first with people."""
    with_people_read = Counter(EMOTIONS[a.intended] for a in with_people)
    read = Counter(EMOTIONS[a.true_label] for a in answers) + with_people_read
    marks = []
    for emotion in EMOTIONS:
        marks += [Milestone(emotion, FACES_READ, count, read[emotion] >= count) for count in FACES_READ_MARKS]
        marks.append(Milestone(emotion, FIRST_WITH_PEOPLE, 1, with_people_read[emotion] >= 1))
    return marks


def reached(marks: Iterable[Milestone]) -> list[Milestone]:
    """Only the marks reached, in the order given."""
    return [mark for mark in marks if mark.reached]


def just_reached(answers: Iterable[Answer], with_people: Iterable[PeopleAnswer], emotion: str) -> Milestone | None:
    """The faces-read mark of `emotion` that the latest face of it reached, if its count is exactly a mark now:
    what the quiz says quietly after that answer."""
    count = sum(EMOTIONS[a.true_label] == emotion for a in answers) + sum(
        EMOTIONS[a.intended] == emotion for a in with_people)
    return Milestone(emotion, FACES_READ, count, True) if count in FACES_READ_MARKS else None
