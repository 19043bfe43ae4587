"""Progress-store throughput on SQLite or PostgreSQL: answers per second with several writer threads (one
Store, as one app server), then several writer processes (a Store each, as several app servers), and the
answers written against the answers stored.

    .venv/bin/python -m benchmarks.store [--db PATH_OR_URL] [--threads 8] [--processes 4] [--answers 200]

--db: a SQLite file or a PostgreSQL URL (postgresql://user@host/db); default a temporary SQLite file.
The answers go into a class session of the benchmark's own, deleted with them at the end.
"""
import argparse
import multiprocessing
import queue
import secrets
import tempfile
import threading
import time
from pathlib import Path

from fercore.labels import EMOTIONS
from fercore.store import Answer, Store, is_postgres_url


def write_answers(db, learner: str, n: int, code: str, ready, spans, store: Store | None = None,
                  deck: str | None = None) -> None:
    store = store or Store(db)
    ready.wait(timeout=120)
    started = time.time()
    for i in range(n):
        store.record(learner, Answer(f"{learner}-{i}", i % 7, (i * 3) % 7, i % 7, 1 + i % 4), session=code, deck=deck)
    spans.put((started, time.time()))


def run(db, store: Store, kind: str, writers: int, n: int, deck: str | None = None) -> float:
    """Answers per second (printed with a check that none were lost); deck: answer on that practice deck."""
    session, token = store.create_session(f"Store benchmark, {kind}", EMOTIONS, n, 1, deck=deck)
    learners = [f"bench-{secrets.token_hex(3)}-{w}" for w in range(writers)]  # apart from any real learner
    if kind == "threads":  # one Store shared, as one app server's browser sessions share it
        ready, spans, start, shared = threading.Barrier(writers), queue.Queue(), threading.Thread, store
    else:
        context = multiprocessing.get_context("spawn")
        ready, spans, start, shared = context.Barrier(writers), context.Queue(), context.Process, None
    workers = [start(target=write_answers, args=(db, learner, n, session.code, ready, spans, shared, deck))
               for learner in learners]
    for worker in workers:
        worker.start()
    finished = [spans.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    rate = writers * n / (max(end for _, end in finished) - min(begin for begin, _ in finished))
    stored = sum(t.answered for t in store.session_report(session.code, token).learners.values())
    intact = all([a.face_id for a in store.answers(learner, deck=deck)] == [f"{learner}-{i}" for i in range(n)]
                 for learner in learners)
    print(f"{writers} writer {kind}{' on a deck' if deck else ''}: {rate:.0f} answers/s; written {writers * n}, "
          f"stored {stored}{', each learner in order, none mixed' if intact else ', SOME LOST, MIXED OR OUT OF ORDER'}")
    store.delete_session(session.code, token)
    return rate


def described(db) -> str:
    if not is_postgres_url(db):
        return f"SQLite, {db}"
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(db)  # not the URL itself: it may hold a password
    return f"PostgreSQL, database {parts.get('dbname')} on {parts.get('host', 'the local socket')}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a SQLite file or a postgresql:// URL (default: a temporary SQLite file)")
    parser.add_argument("--threads", type=int, default=8, help="writer threads sharing one Store")
    parser.add_argument("--processes", type=int, default=4, help="writer processes, a Store each")
    parser.add_argument("--answers", type=int, default=200, help="answers per writer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        db = args.db if is_postgres_url(args.db) else Path(args.db or Path(workdir) / "progress.sqlite3")
        print(f"database: {described(db)}")
        store = Store(db)
        run(db, store, "threads", args.threads, args.answers)
        run(db, store, "processes", args.processes, args.answers)
        store.close()


if __name__ == "__main__":
    main()
