"""Twenty learners answering at once against one store, as on one app server during a class."""
import threading

import numpy as np
from test_quiz import made_up_splits

from fercore.quiz import ADAPT_WINDOW, build_pool, next_question, score
from fercore.store import Store

LEARNERS, QUESTIONS = 20, 25


def learner_session(store: Store, pool, session, learner: str, seed: int, ready: threading.Barrier,
                    asked: list) -> None:
    """What the quiz page does per answer: read recent answers, pick a face, store the guess."""
    rng = np.random.default_rng(seed)
    ready.wait(timeout=60)
    for _ in range(QUESTIONS):
        history = store.answers(learner, limit=ADAPT_WINDOW)
        question = next_question(pool, history, session.level, session.emotions, rng=rng)
        result = score(question, str(rng.choice(question.choices)))
        store.record(learner, result.answer, session.code)
        asked.append((question.face_id, result.answer.guess))


def test_twenty_learners_at_once_lose_and_mix_no_answers(tmp_path):
    store = Store(tmp_path / "progress.sqlite3")  # one per server, shared by every browser session
    session, token = store.create_session("Load test", ["happy", "sad", "fear", "angry"], QUESTIONS, 2)
    pool = build_pool(*made_up_splits(100))
    learners = [f"learner{n:02d}" for n in range(LEARNERS)]
    asked = {learner: [] for learner in learners}
    ready, errors = threading.Barrier(LEARNERS), []

    def run(seed, learner):
        try:
            learner_session(store, pool, session, learner, seed, ready, asked[learner])
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    for learner in learners:
        assert [(a.face_id, a.guess) for a in store.answers(learner)] == asked[learner]
    report = store.session_report(session.code, token)
    assert sorted(report.learners) == learners
    assert sum(tally.answered for tally in report.learners.values()) == LEARNERS * QUESTIONS
