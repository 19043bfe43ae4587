"""The quiz logic on made-up pools: levels, focus, adaptation, no repeats, scoring, the probability cache."""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fercore.data import Split, load_fer2013
from fercore.labels import EMOTIONS, INDEX
from fercore.quiz import (CHOICES, CLARITY, CUES, REPEAT_WINDOW, QuizError, Question, build_pool, next_question,
                          pool_probabilities, score, suggest_level)
from fercore.store import Answer

FEAR, SURPRISE = INDEX["fear"], INDEX["surprise"]
TRUE_PROBABILITY = np.array([0.9, 0.55, 0.3, 0.05])  # four kinds of face: clear and right, right but unsure,
WRONG_PROBABILITY = np.array([0.05, 0.3, 0.6, 0.9])  # plausible but read wrongly, far off


def made_up_splits(n_per_class: int, seed: int = 0) -> tuple[dict[str, Split], np.ndarray]:
    """Random faces split into PublicTest and PrivateTest, with made-up model probabilities in pool order."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(7), n_per_class))
    n = len(labels)
    kind = np.arange(n) % 4
    wrong_class = (labels + 1 + rng.integers(0, 6, n)) % 7
    probabilities = np.repeat(((1 - TRUE_PROBABILITY - WRONG_PROBABILITY)[kind] / 5)[:, None], 7, axis=1)
    probabilities[np.arange(n), labels] = TRUE_PROBABILITY[kind]
    probabilities[np.arange(n), wrong_class] = WRONG_PROBABILITY[kind]
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    ids = np.array([f"PublicTest_{i}" for i in range(n // 2)] + [f"PrivateTest_{i}" for i in range(n - n // 2)])
    splits = {name: Split(name, images[part], labels[part], ids[part])
              for name, part in [("public", slice(0, n // 2)), ("private", slice(n // 2, n))]}
    return splits, probabilities.astype(np.float32)


@pytest.fixture(scope="module")
def pool():
    return build_pool(*made_up_splits(200))


def always_right(question):
    return EMOTIONS[question.true_label]


def misses_fear(question):
    """Right on every face except fear, which they read as surprise when offered."""
    if question.true_label != FEAR:
        return EMOTIONS[question.true_label]
    return "surprise" if "surprise" in question.choices else next(c for c in question.choices if c != "fear")


def practise(pool, answer_for, n, level=4, focus=None, seed=0) -> list[Question]:
    rng = np.random.default_rng(seed)
    history, questions = [], []
    for _ in range(n):
        question = next_question(pool, history, level, focus, rng)
        history.append(score(question, answer_for(question)).answer)
        questions.append(question)
    return questions


def test_level_one_offers_two_choices_on_faces_the_model_reads_clearly_and_rightly(pool):
    questions = practise(pool, always_right, 150, level=1)
    for q in questions:
        assert len(q.choices) == 2 and EMOTIONS[q.true_label] in q.choices
        assert q.choices == [e for e in EMOTIONS if e in q.choices]  # stable order, buttons never jump
        assert q.model_guess == q.true_label and q.model_probabilities[q.true_label] >= CLARITY[1][1]
        assert q.image.shape == (48, 48) and q.image.dtype == np.uint8
        np.testing.assert_array_equal(q.image, pool.image(q.face_id))
    assert {q.true_label for q in questions} == set(range(7))


def test_more_choices_and_subtler_faces_at_higher_levels(pool):
    for level, n_choices in CHOICES.items():
        assert {len(q.choices) for q in practise(pool, always_right, 60, level)} == {n_choices}
    level_four = practise(pool, always_right, 200, level=4)
    assert all(q.choices == list(EMOTIONS) for q in level_four)
    assert sum(q.model_guess != q.true_label for q in level_four) > 50  # any face, also those the model misreads


def test_focus_restricts_the_true_emotions(pool):
    questions = practise(pool, always_right, 100, level=2, focus=["fear", "disgust"])
    assert {EMOTIONS[q.true_label] for q in questions} == {"fear", "disgust"}
    with pytest.raises(QuizError, match="joy"):
        next_question(pool, [], 2, focus=["joy"])


def test_practice_shifts_toward_the_emotion_a_learner_keeps_missing(pool):
    def fear_share(answer_for):
        questions = practise(pool, answer_for, 400)[100:]  # after the first few answers per emotion
        return np.mean([q.true_label == FEAR for q in questions])

    steady, struggling = fear_share(always_right), fear_share(misses_fear)
    assert 0.08 < steady < 0.22  # about one in seven
    assert struggling > 0.4 and struggling > 2.5 * steady


def test_the_emotion_a_face_was_taken_for_is_offered_again(pool):
    history = [Answer(f"PublicTest_{i}", FEAR, SURPRISE, FEAR, 1) for i in range(3)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert next_question(pool, history, 1, focus=["fear"], rng=rng).choices == ["fear", "surprise"]


def test_no_face_comes_back_within_the_window(pool):
    questions = practise(pool, misses_fear, 400, level=1)
    for i, q in enumerate(questions):
        assert q.face_id not in {p.face_id for p in questions[max(0, i - REPEAT_WINDOW) : i]}


def test_fewer_faces_than_the_window_take_turns():
    tiny = build_pool(*made_up_splits(8))
    n = len(tiny.eligible[1][FEAR])
    assert 1 < n < REPEAT_WINDOW
    ids = [q.face_id for q in practise(tiny, always_right, 3 * n, level=1, focus=["fear"])]
    assert len(set(ids)) == n
    assert all(face not in ids[max(0, i - n + 1) : i] for i, face in enumerate(ids))  # the longest unseen comes next


def test_scoring_is_plain_and_kind():
    probabilities = np.array([0.0, 0.0, 0.3, 0.0, 0.0, 0.7, 0.0], np.float32)  # the model reads surprise
    question = Question("PublicTest_1", np.zeros((48, 48), np.uint8), FEAR, ["fear", "surprise"], probabilities, 1)

    right = score(question, "fear")
    assert right.correct and right.message.startswith("Yes") and "model read it as surprise" in right.message
    assert right.answer == Answer("PublicTest_1", FEAR, FEAR, SURPRISE, 1) and right.cue == CUES["fear"]

    both_wrong = score(question, "surprise")
    assert not both_wrong.correct and "labelled fear" in both_wrong.message
    assert "surprise too" in both_wrong.message and "65%" in both_wrong.message

    with pytest.raises(QuizError):
        score(question, "happy")
    assert set(CUES) == set(EMOTIONS) and "brows raised high" in CUES["surprise"]
    assert not any("!" in text for text in [right.message, both_wrong.message, *CUES.values()])


def test_a_higher_level_is_suggested_after_eight_right_of_ten():
    def history(level, rights):
        return [Answer("f", 0, 0 if right else 1, 0, level) for right in rights]

    assert suggest_level(history(2, [False] * 5 + [True] * 8 + [False] * 2), 2) == 3
    assert suggest_level(history(2, [True] * 7 + [False] * 3), 2) == 2
    assert suggest_level(history(2, [True] * 8), 2) == 2  # too few answers yet
    assert suggest_level(history(1, [True] * 10), 2) == 2  # answers at another level do not count
    assert suggest_level(history(4, [True] * 10), 4) == 4


class CountingPredictor:
    def __init__(self, probabilities):
        self.probabilities_out, self.calls, self.faces = probabilities, 0, None

    def probabilities(self, faces):
        self.calls, self.faces = self.calls + 1, faces
        return self.probabilities_out


def test_pool_probabilities_are_cached_per_model_file_and_data(tmp_path):
    splits, probabilities = made_up_splits(4)
    model = tmp_path / "model.keras"
    model.write_bytes(b"weights, version 1")
    predictor = CountingPredictor(probabilities)

    def cached():
        return pool_probabilities(model, splits, tmp_path / "cache", load_predictor=lambda path: predictor)

    np.testing.assert_array_equal(cached(), probabilities)
    np.testing.assert_array_equal(predictor.faces, np.concatenate([splits["public"].images, splits["private"].images]))
    np.testing.assert_array_equal(cached(), probabilities)
    assert predictor.calls == 1  # the second call read the cache

    model.write_bytes(b"weights, version 2")
    cached()
    assert predictor.calls == 2
    splits["private"].labels[0] = (splits["private"].labels[0] + 1) % 7  # other data, other cache entry
    cached()
    assert predictor.calls == 3


def test_readings_stored_beside_the_model_start_the_quiz_without_running_it(tmp_path):
    from fercore.artifact import save_readings
    from fercore.data import fingerprint

    splits, probabilities = made_up_splits(4)
    model = tmp_path / "model.keras"
    model.write_bytes(b"weights, version 1")
    save_readings(model, fingerprint(splits), probabilities)
    predictor = CountingPredictor(probabilities)

    def readings():
        return pool_probabilities(model, splits, tmp_path / "cache", load_predictor=lambda path: predictor)

    np.testing.assert_allclose(readings(), probabilities, atol=1e-3)  # stored as float16
    assert predictor.calls == 0
    splits["private"].images[0] ^= 1  # other faces (e.g. the CSV's, not the folder copy's): run the model
    readings()
    assert predictor.calls == 1
    splits["private"].images[0] ^= 1
    model.write_bytes(b"weights, version 2")  # a retrained file under the same name: its readings are stale
    readings()
    assert predictor.calls == 2


def test_questions_need_no_tensorflow_when_probabilities_are_cached(tmp_path):
    splits, probabilities = made_up_splits(4)
    model = tmp_path / "model.keras"
    model.write_bytes(b"weights")
    pool_probabilities(model, splits, tmp_path, load_predictor=lambda _: CountingPredictor(probabilities))
    child = (
        "import sys; from test_quiz import made_up_splits; from fercore.quiz import *\n"
        f"probabilities = pool_probabilities({str(model)!r}, made_up_splits(4)[0], {str(tmp_path)!r})\n"
        "next_question(build_pool(made_up_splits(4)[0], probabilities), [], 4)\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    result = subprocess.run([sys.executable, "-c", child], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_next_question_is_fast_on_a_full_size_pool():
    pool = build_pool(*made_up_splits(1026))  # 7,182 faces, the size of PublicTest + PrivateTest
    rng = np.random.default_rng(0)
    history = [Answer(str(face_id), int(label), int(rng.integers(7)), int(label), 4)
               for face_id, label in zip(pool.ids[:500], pool.labels[:500])]
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        next_question(pool, history, 3, rng=rng)
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.1


def test_the_real_pool_is_publictest_and_privatetest(real_data_path):
    splits = load_fer2013(real_data_path)
    n = len(splits["public"]) + len(splits["private"])
    pool = build_pool(splits, np.full((n, 7), 1 / 7, np.float32))
    assert len(pool) == 7178 and len(pool.index) == 7178  # every face id is its own
    assert not set(pool.ids) & set(splits["train"].ids)
    question = next_question(pool, [], 4, rng=np.random.default_rng(0))
    assert question.face_id.startswith(("PublicTest_", "PrivateTest_"))
