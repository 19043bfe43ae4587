"""What a learner's (or a class's) answers add up to: trends, confusion matrices, days and sittings, tallies
by emotion, the faces missed most. Pure functions over answers, oldest first."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Iterable

import numpy as np

from fercore.labels import EMOTIONS, NUM_CLASSES
from fercore.store.records import Answer, MissedFace, Period, StoredAnswer, Tally

TREND_WINDOW = 20  # the fewest answers averaged for each point of a progress trend
SITTING_GAP = timedelta(minutes=30)  # a longer pause starts a new sitting
MOST_MISSED = 10


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
