"""The quiz: which face comes next, which answers are offered, and what is said afterwards.

Faces come from PublicTest + PrivateTest (the model never trained on them), or from a practice deck of
an owner's own photos (fercore.decks), with the model's probabilities for each face computed once.
Levels run from two choices on faces the model reads clearly and rightly to all seven choices on any
face. Practice adapts: emotions a learner misses come back more often, with the emotions they took them
for among the choices. There are no timers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from fercore.artifact import file_digest, load_readings
from fercore.data import TEST_SPLITS, Split, cache_dir as default_cache_dir, fingerprint
from fercore.errors import FercoreError
from fercore.labels import EMOTIONS, INDEX, NUM_CLASSES
from fercore.store import Answer, confusion_matrix

QUIZ_SPLITS = TEST_SPLITS
LEVELS = (1, 2, 3, 4)
CHOICES = {1: 2, 2: 3, 3: 5, 4: 7}  # answer buttons per level
# The faces a level may show: must the model be right, and the least probability it gives the label.
CLARITY = {1: (True, 0.8), 2: (True, 0.5), 3: (False, 0.2), 4: (False, 0.0)}
REPEAT_WINDOW = 50  # a face does not come back within this many answers
ADAPT_WINDOW = 200  # adapt to the latest answers only, so improvement shows
WEIGHT_FLOOR = 0.1  # an emotion the learner has mastered still comes back now and then
RISE_AFTER = (8, 10)  # suggest the next level after 8 right of the last 10 at this level

CUES = {
    "angry": "brows pulled down and together, eyes glaring, lips pressed tight or mouth open and tense",
    "disgust": "nose wrinkled, upper lip raised, brows lowered, as if pulling away from a smell",
    "fear": "brows raised and drawn together, upper eyelids raised so the eyes look wide, lips stretched back",
    "happy": "mouth corners pulled up, cheeks raised, small creases at the outer corners of the eyes",
    "sad": "inner ends of the brows raised, upper eyelids drooping, mouth corners turned down",
    "surprise": "brows raised high and curved, eyes wide, mouth often open",
    "neutral": "brows relaxed, eyes open normally, mouth closed and relaxed",
}
LABEL_NOISE = ("Labels like these are noisy: people agree with FER2013's labels only about 65% of the time, "
               "so a different reading is understandable.")
DECK_LABEL = "The deck's owner chose this label; a face can be read more than one way."
DECK_FACE = "deck:"  # the start of a practice deck's face ids: deck:<code>:<number>


class QuizError(FercoreError):
    pass


@dataclass(frozen=True)
class QuizPool:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) true emotion indices
    ids: np.ndarray  # (N,) face ids, e.g. "PublicTest_123"
    probabilities: np.ndarray  # (N, 7) the model's
    eligible: dict[int, tuple[np.ndarray, ...]]  # level -> for each true emotion, the faces it may show
    index: dict[str, int]  # face id -> position
    pictures: tuple[bytes, ...] | None = None  # a deck's faces in colour, encoded (decoded only when shown)

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, face_id: str) -> np.ndarray:
        return self.images[self.index[face_id]]

    def picture(self, face_id: str) -> np.ndarray:
        """The face as shown: in colour for a deck, else the 48x48 grayscale face."""
        return self.image(face_id) if self.pictures is None else _decoded(self.pictures[self.index[face_id]])


@dataclass(frozen=True)
class Question:
    face_id: str
    image: np.ndarray  # (48, 48) uint8
    true_label: int
    choices: list[str]  # emotion names in EMOTIONS order
    model_probabilities: np.ndarray  # (7,)
    level: int
    picture: np.ndarray | None = None  # a deck's face in colour (RGB); None for FER2013's grayscale faces

    @property
    def model_guess(self) -> int:
        return int(self.model_probabilities.argmax())

    @property
    def model_confidence(self) -> float:
        return float(self.model_probabilities.max())


@dataclass(frozen=True)
class Result:
    answer: Answer  # ready for Store.record
    message: str  # a calm sentence on how the learner and the model read the face
    cue: str  # what the labelled emotion typically looks like

    @property
    def correct(self) -> bool:
        return self.answer.correct


def build_pool(splits: dict[str, Split], probabilities: np.ndarray) -> QuizPool:
    """The quiz faces with the model's probabilities, rows in QUIZ_SPLITS order (see pool_probabilities)."""
    return pool_of(*_quiz_faces(splits), probabilities)


def pool_of(images: np.ndarray, labels: np.ndarray, ids: np.ndarray, probabilities: np.ndarray,
            pictures: tuple[bytes, ...] | None = None) -> QuizPool:
    """A quiz pool of any labelled 48x48 faces (FER2013's, or a deck's with its colour pictures)."""
    labels = np.asarray(labels, np.int64)
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.shape != (len(labels), NUM_CLASSES):
        raise QuizError(f"Expected probabilities of shape ({len(labels)}, {NUM_CLASSES}) for the quiz faces, "
                        f"got {probabilities.shape}.")
    index = {str(face_id): i for i, face_id in enumerate(ids)}
    if len(index) != len(ids):
        raise QuizError("Face ids repeat across the quiz faces; each face needs its own id.")
    return QuizPool(images, labels, ids, probabilities, _eligible(labels, probabilities), index, pictures)


def pool_probabilities(model_path: str | os.PathLike, splits: dict[str, Split],
                       cache_dir: str | os.PathLike | None = None,
                       load_predictor: Callable | None = None) -> np.ndarray:
    """The model's probabilities for every quiz face: the readings stored beside the model when they
    match these faces, else cached on disk per model file content and data.

    load_predictor(model_path) -> an object with .probabilities(faces); by default
    fercore.predict.Predictor.from_path, imported only when nothing stored fits (TensorFlow is slow to load).
    """
    faces_fingerprint = fingerprint({name: splits[name] for name in QUIZ_SPLITS})
    expected_shape = (sum(len(splits[name]) for name in QUIZ_SPLITS), NUM_CLASSES)
    stored = load_readings(model_path, faces_fingerprint)
    if stored is not None and stored.shape == expected_shape:
        return stored
    cache = Path(cache_dir or default_cache_dir()) / f"quiz-probabilities-flip-{file_digest(model_path)}-{faces_fingerprint}.npy"
    try:
        cached = np.load(cache)
        if cached.shape == expected_shape:
            return cached
    except (OSError, ValueError):
        pass  # missing or damaged: compute again
    if load_predictor is None:
        from fercore.predict import Predictor

        load_predictor = Predictor.from_path
    probabilities = np.asarray(load_predictor(model_path).probabilities(_quiz_faces(splits)[0]), np.float32)
    _save(cache, probabilities)
    return probabilities


def next_question(pool: QuizPool, history: Sequence[Answer], level: int, focus: Iterable[str] | None = None,
                  rng: np.random.Generator | None = None) -> Question:
    """history: the learner's answers, oldest first. focus: emotion names to ask about (None: all)."""
    if level not in CHOICES:
        raise QuizError(f"Level {level} does not exist; levels are {', '.join(map(str, LEVELS))}.")
    rng = rng or np.random.default_rng()
    focus = tuple(focus or EMOTIONS)
    faces_by_emotion = pool.eligible[level]
    emotions = np.array([e for e in _focus_indices(focus) if faces_by_emotion[e].size], dtype=np.int64)
    if not emotions.size:
        raise QuizError(f"The quiz faces hold none of: {', '.join(focus)}.")
    confusion = confusion_matrix(history[-ADAPT_WINDOW:])
    weights = practice_weights(confusion)[emotions]
    emotion = int(rng.choice(emotions, p=weights / weights.sum()))
    face = _fresh_face(pool, faces_by_emotion[emotion], history[-REPEAT_WINDOW:], rng)
    # With two or more focus emotions the answers come from them too, so a session on happy vs sad asks
    # exactly that; a single focus emotion still needs others to choose between.
    options = _focus_indices(focus) if len(focus) >= 2 else list(range(NUM_CLASSES))
    return Question(str(pool.ids[face]), pool.images[face], emotion,
                    _choices(emotion, confusion[emotion], CHOICES[level], options, rng), pool.probabilities[face],
                    level, None if pool.pictures is None else _decoded(pool.pictures[face]))


def practice_weights(confusion: np.ndarray) -> np.ndarray:
    """How often each true emotion comes up: its miss rate, smoothed, never below WEIGHT_FLOOR."""
    answered = confusion.sum(axis=1)
    missed = answered - np.diag(confusion)
    return np.maximum(WEIGHT_FLOOR, (missed + 1) / (answered + 2))


def score(question: Question, guess: str) -> Result:
    if guess not in question.choices:
        raise QuizError(f"'{guess}' is not one of the choices: {', '.join(question.choices)}.")
    answer = Answer(question.face_id, question.true_label, INDEX[guess], question.model_guess, question.level)
    return Result(answer, _message(answer), CUES[EMOTIONS[question.true_label]])


def suggest_level(history: Sequence[Answer], level: int) -> int:
    """The level to offer next; a suggestion only, the learner chooses."""
    right, out_of = RISE_AFTER
    latest = [a.correct for a in history if a.level == level][-out_of:]
    return level + 1 if level < LEVELS[-1] and len(latest) == out_of and sum(latest) >= right else level


def _quiz_faces(splits: dict[str, Split]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [splits[name] for name in QUIZ_SPLITS]
    return tuple(np.concatenate([getattr(p, attr) for p in parts]) for attr in ("images", "labels", "ids"))


def _eligible(labels: np.ndarray, probabilities: np.ndarray) -> dict[int, tuple[np.ndarray, ...]]:
    label_probability = probabilities[np.arange(len(labels)), labels]
    model_right = probabilities.argmax(axis=1) == labels
    eligible = {}
    for level in sorted(LEVELS, reverse=True):
        must_be_right, least = CLARITY[level]
        clear = (label_probability >= least) & (model_right | (not must_be_right))
        faces = [np.flatnonzero(clear & (labels == e)) for e in range(NUM_CLASSES)]
        if level + 1 in eligible:  # an emotion with no face this clear borrows the next level's
            faces = [f if f.size else eligible[level + 1][e] for e, f in enumerate(faces)]
        eligible[level] = tuple(faces)
    return eligible


def _focus_indices(focus: tuple[str, ...]) -> list[int]:
    unknown = set(focus) - set(EMOTIONS)
    if unknown:
        raise QuizError(f"Unknown emotion(s) {sorted(unknown)}; choose from {', '.join(EMOTIONS)}.")
    return [INDEX[e] for e in EMOTIONS if e in focus]


def _fresh_face(pool: QuizPool, candidates: np.ndarray, recent: Sequence[Answer], rng: np.random.Generator) -> int:
    last_seen = {pool.index[a.face_id]: n for n, a in enumerate(recent) if a.face_id in pool.index}
    fresh = candidates[~np.isin(candidates, list(last_seen))]
    if fresh.size:
        return int(rng.choice(fresh))
    return int(min(candidates, key=last_seen.__getitem__))  # fewer faces than the window: the longest unseen


def _choices(emotion: int, mixups: np.ndarray, n: int, options: list[int], rng: np.random.Generator) -> list[str]:
    """The true emotion, the ones the learner took it for (most often first), then others at random."""
    others = [e for e in options if e != emotion]
    confused = sorted((e for e in others if mixups[e]), key=lambda e: -mixups[e])
    shuffled = [int(e) for e in rng.permutation(others) if e not in confused]
    picked = {emotion, *(confused + shuffled)[: n - 1]}
    return [EMOTIONS[e] for e in sorted(picked)]


def _message(answer: Answer) -> str:
    label, guess, model = (EMOTIONS[i] for i in (answer.true_label, answer.guess, answer.model_guess))
    if answer.correct:
        if answer.model_correct:
            return f"Yes: this face is labelled {label}, and the model read it that way too."
        return (f"Yes: this face is labelled {label}. The model read it as {model}; "
                "faces like this can be read more than one way.")
    model_said = f"The model read it as {model}{' too' if model == guess else ''}."
    noise = DECK_LABEL if answer.face_id.startswith(DECK_FACE) else LABEL_NOISE
    return f"This face is labelled {label}; you read it as {guess}. {model_said} {noise}"


def _decoded(picture: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)  # atomic: another process never reads half an array
    except OSError:
        pass  # a read-only cache folder still works, only slower
