"""Twenty learners answering at once against one store, as on one app server during a class (on SQLite
and on PostgreSQL), and spread over three app servers that share one PostgreSQL database."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from test_quiz import made_up_splits

from fercore.quiz import ADAPT_WINDOW, build_pool, next_question, score
from fercore.store import Store

LEARNERS, QUESTIONS, SERVERS = 20, 25, 3
EMOTIONS_ASKED = ["happy", "sad", "fear", "angry"]


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


def answer_together(store: Store, pool, code: str, learners: list[str], seeds: list[int]) -> dict[str, list]:
    """Every learner in a thread of their own, all starting at once, as one server's browser sessions;
    returns what each was asked and answered, in order."""
    session = store.join_session(code)
    asked = {learner: [] for learner in learners}
    ready, errors = threading.Barrier(len(learners)), []

    def run(seed, learner):
        try:
            learner_session(store, pool, session, learner, seed, ready, asked[learner])
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(seeds, learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return asked


def app_server(url: str, code: str, learners: str, seeds: str, start_at: str) -> None:
    """One app server's share of the class, in a process of its own; prints what each learner answered."""
    store, pool = Store(url), build_pool(*made_up_splits(100))
    time.sleep(max(0.0, float(start_at) - time.time()))
    asked = answer_together(store, pool, code, learners.split(","), [int(s) for s in seeds.split(",")])
    print(json.dumps(asked))  # the last line of its output


def assert_each_answer_stored_once(store: Store, session, token, asked: dict[str, list]) -> None:
    for learner, theirs in asked.items():
        assert [(a.face_id, a.guess) for a in store.answers(learner)] == [tuple(pair) for pair in theirs]
    report = store.session_report(session.code, token)
    assert sorted(report.learners) == sorted(asked)
    assert sum(tally.answered for tally in report.learners.values()) == LEARNERS * QUESTIONS


def test_twenty_learners_at_once_lose_and_mix_no_answers(db):
    store = Store(db)  # one per server, shared by every browser session
    session, token = store.create_session("Load test", EMOTIONS_ASKED, QUESTIONS, 2)
    learners = [f"learner{n:02d}" for n in range(LEARNERS)]
    asked = answer_together(store, build_pool(*made_up_splits(100)), session.code, learners, list(range(LEARNERS)))
    assert_each_answer_stored_once(store, session, token, asked)


def test_twenty_learners_on_three_app_servers_sharing_postgresql_lose_and_mix_no_answers(postgres_url):
    """Three processes, as three app servers behind a proxy, each with its own Store and a third of the
    class, all answering at the same moment. subprocess, not multiprocessing: see test_store.py."""
    store = Store(postgres_url)
    session, token = store.create_session("Load test", EMOTIONS_ASKED, QUESTIONS, 2)
    learners = [f"learner{n:02d}" for n in range(LEARNERS)]
    start_at = time.time() + 8  # once every interpreter is up
    code = "import sys; sys.path.insert(0, sys.argv[1]); from test_load import app_server; app_server(*sys.argv[2:])"
    servers = [subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent), postgres_url, session.code,
                                 ",".join(learners[s::SERVERS]), ",".join(map(str, range(s, LEARNERS, SERVERS))),
                                 str(start_at)], stdout=subprocess.PIPE, text=True) for s in range(SERVERS)]
    outputs = [server.communicate(timeout=300)[0] for server in servers]
    assert [server.returncode for server in servers] == [0] * SERVERS
    asked = {learner: pairs for output in outputs for learner, pairs in json.loads(output.splitlines()[-1]).items()}
    assert sorted(asked) == learners
    assert_each_answer_stored_once(store, session, token, asked)
