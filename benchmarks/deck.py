"""Practice decks against issue 31's three targets, on FER2013's test faces made into photos (as
tests/deck_photos.py makes them: each face enlarged to 200 px, tinted, on a 640x480 coloured background):

1. a zip of 50 photos: faces found, levelled and stored, in seconds (target: at most 10 s on 2 cores);
2. the first quiz face of a deck against that of FER2013: the pool a quiz face is drawn from (a deck's with
   the model's readings kept, as the owner's page leaves them), then a face drawn from it;
3. the store's answers/s with a 500-face deck answered on, against plain FER2013 answers (target: within 10%).

    FER_DATA=/work/shared/fer2013 .venv/bin/python -m benchmarks.deck [--photos 50] [--quiz-faces 500]
        [--deck-faces 500] [--rounds 5] [--db URL]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the photo maker the tests use

from benchmarks.store import run as answers_per_second  # noqa: E402
from deck_photos import labelled_faces, photos_zip  # noqa: E402
from fercore.artifact import file_digest  # noqa: E402
from fercore.data import TEST_SPLITS, load_fer2013, resolve_data_path  # noqa: E402
from fercore.decks import add_faces, deck_pool, faces_of, read_zip  # noqa: E402
from fercore.quiz import build_pool, next_question, pool_probabilities  # noqa: E402
from fercore.registry import active_model_path  # noqa: E402
from fercore.store import Store, is_postgres_url  # noqa: E402


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def intake(store: Store, archive: bytes, photos: int) -> str:
    deck, token = store.create_deck("Benchmark deck")
    fractions = []
    found, seconds = timed(lambda: read_zip(archive, "family.zip", lambda f, text: fractions.append(f)))
    _, storing = timed(lambda: add_faces(store, deck.code, token, faces_of(found), permission=True))
    print(f"1. {photos}-photo zip ({len(archive) / 1e6:.1f} MB) on {os.cpu_count()} cores: faces found and levelled "
          f"in {seconds:.2f} s, stored in {storing:.2f} s, {seconds + storing:.2f} s in all "
          f"({sum(p.usable for p in found)} of {photos} photos gave a face; {len(fractions)} progress updates)")
    return deck.code


def filled(store: Store, archive: bytes, faces: int) -> str:
    """A deck of `faces` faces, the zip's photos over again."""
    deck, token = store.create_deck("Benchmark deck, for the quiz")
    found = faces_of(read_zip(archive, "family.zip"))
    add_faces(store, deck.code, token, (found * (faces // len(found) + 1))[:faces], permission=True)
    return deck.code


def first_faces(store: Store, code: str) -> None:
    from fercore.predict import Predictor

    predictor, loading = timed(lambda: Predictor.from_path(active_model_path()))
    path = resolve_data_path()
    load_fer2013(path, splits=TEST_SPLITS)  # the on-disk cache, as a server has it after its first start
    fer, fer_pool = timed(lambda: build_pool(splits := load_fer2013(path, splits=TEST_SPLITS),
                                             pool_probabilities(active_model_path(), splits)))
    digest = file_digest(active_model_path())
    _, reading = timed(lambda: deck_pool(store, code, digest, lambda: predictor))  # the owner's page, once
    deck, deck_seconds = timed(lambda: deck_pool(store, code, digest, lambda: predictor))
    draw = {name: timed(lambda pool=pool: [next_question(pool, [], 4) for _ in range(100)])[1] / 100
            for name, pool in (("FER2013", fer), ("deck", deck))}
    print(f"2. first quiz face: FER2013 pool of {len(fer)} faces {fer_pool:.2f} s + {draw['FER2013'] * 1000:.1f} ms "
          f"a face; deck pool of {len(deck)} faces {deck_seconds:.2f} s + {draw['deck'] * 1000:.1f} ms a face (the "
          f"colour picture decoded), its readings kept from the model's first run over the deck ({reading:.2f} s, "
          f"model loaded in {loading:.1f} s)")


def store_rate(db, deck_faces: int, rounds: int) -> None:
    """Plain FER2013 answers and answers on a full deck, in turns (a busy machine's load drifts), medians."""
    store = Store(db)
    deck, token = store.create_deck("Benchmark deck, full")
    rng = np.random.default_rng(0)
    crop = bytes(rng.integers(0, 256, 12_000, dtype=np.uint8))  # about a real colour crop's size
    store.add_deck_faces(deck.code, token, [(i % 7, crop, crop[:2_000]) for i in range(deck_faces)], permission=True)
    plain, on_deck = [], []
    for _ in range(rounds):
        plain.append(answers_per_second(db, store, "threads", 8, 200))
        on_deck.append(answers_per_second(db, store, "threads", 8, 200, deck=deck.code))
    store.delete_deck(deck.code, token)
    store.close()
    plain, on_deck = float(np.median(plain)), float(np.median(on_deck))
    print(f"3. answers/s, medians of {rounds} turns: {on_deck:.0f} on a {deck_faces}-face deck against {plain:.0f} "
          f"on FER2013's faces, {(on_deck / plain - 1) * 100:+.1f}%")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--quiz-faces", type=int, default=500, help="faces in the deck whose first quiz face is timed")
    parser.add_argument("--deck-faces", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="turns of the answers/s comparison")
    parser.add_argument("--db", help="a postgresql:// URL for the store figures (default: a temporary SQLite file)")
    args = parser.parse_args()
    archive = photos_zip(labelled_faces(resolve_data_path(), args.photos))
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Path(scratch) / "decks.sqlite3")
        code = intake(store, archive, args.photos)
        first_faces(store, filled(store, archive, args.quiz_faces))
        db = args.db if is_postgres_url(args.db) else Path(scratch) / "rate.sqlite3"
        store_rate(db, args.deck_faces, args.rounds)


if __name__ == "__main__":
    main()
