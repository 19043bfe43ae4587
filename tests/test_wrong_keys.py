"""Guessing keys is slowed down: a few wrong keys pass, then each try waits longer, per nickname (or code,
or the maintainer key) and per client. Time passes on a clock the tests move, never by sleeping."""
import re

import pytest
from conftest import sign_in
from streamlit.testing.v1 import AppTest

from fercore import rate_limit, roles
from fercore.labels import EMOTIONS
from fercore.rate_limit import CLIENT_FREE_TRIES, TOKEN_FREE_TRIES, Limiter, MemoryCounts, TooManyTries
from fercore.roles import unlocks_training
from fercore.store import Store, StoreError, WrongLearnerKey

WRONG = [f"{c * 4}-{c * 4}" for c in "ABCDEFGHJKMN"]  # twelve different wrong keys


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """A clock for this test, and fresh per-client counts on it; no client is set when the test ends."""
    clock = Clock()
    monkeypatch.setattr(rate_limit, "CLIENTS", Limiter(MemoryCounts(), clock))
    yield clock
    rate_limit.set_client(None)


def robin(db, clock) -> tuple[Store, str]:
    store = Store(db)
    store.key_tries.clock = clock
    return store, store.register_learner("Robin")[1]


def test_after_five_wrong_keys_a_nickname_waits_even_for_the_right_key(db, clock):
    store, key = robin(db, clock)
    _, sams_key = store.register_learner("Sam")
    for wrong in WRONG[:5]:  # typos cost nothing
        with pytest.raises(WrongLearnerKey):
            store.sign_in("Robin", wrong)
    with pytest.raises(TooManyTries, match=r"^Too many wrong keys for this nickname\. Try again in 30 seconds\.$"):
        store.sign_in("robin", key)
    assert store.sign_in("Sam", sams_key) == "Sam"  # other nicknames are not slowed down
    clock.wait(29)
    with pytest.raises(TooManyTries, match="Try again in 1 second"):
        store.sign_in("Robin", key)
    clock.wait(1)
    assert store.sign_in("Robin", key) == "Robin"


def test_each_further_wrong_key_doubles_the_wait_up_to_five_minutes_until_a_quiet_quarter_hour(tmp_path, clock):
    store, key = robin(tmp_path / "p.sqlite3", clock)
    for wrong in WRONG[:5]:
        with pytest.raises(WrongLearnerKey):
            store.sign_in("Robin", wrong)
    said = []
    for wrong in WRONG[5:11]:
        with pytest.raises(TooManyTries) as refused:
            store.sign_in("Robin", key)
        said.append(str(refused.value).split("Try again in ")[1])
        clock.wait(5 * 60)
        with pytest.raises(WrongLearnerKey):
            store.sign_in("Robin", wrong)
    assert said == ["30 seconds.", "1 minute.", "2 minutes.", "4 minutes.", "5 minutes.", "5 minutes."]

    clock.wait(15 * 60)  # a quarter hour without a wrong key: a few typos are free again
    for wrong in WRONG[:5]:
        with pytest.raises(WrongLearnerKey):
            store.sign_in("Robin", wrong)
    with pytest.raises(TooManyTries, match="30 seconds"):
        store.sign_in("Robin", key)


def test_the_same_wrong_key_again_is_one_mistake_not_another_guess(tmp_path, clock):
    """A press made twice, or a page that runs again with the same wrong token in its box, guesses nothing new."""
    store, key = robin(tmp_path / "p.sqlite3", clock)
    for typed in ["ABCD-EFGH"] * 8 + ["abcd efgh"]:
        with pytest.raises(WrongLearnerKey):
            store.sign_in("Robin", typed)
    assert store.sign_in("Robin", key) == "Robin"


def test_wrong_keys_from_one_client_add_up_over_every_nickname(tmp_path, clock):
    store = Store(tmp_path / "p.sqlite3")
    store.key_tries.clock = clock
    nicknames = [f"Learner{n}" for n in range(CLIENT_FREE_TRIES // 4)]
    for name in nicknames:
        store.register_learner(name)
    _, key = store.register_learner("Sam")
    rate_limit.set_client("203.0.113.7")
    for n in range(CLIENT_FREE_TRIES):  # four wrong keys for each nickname: none of them waits
        with pytest.raises(WrongLearnerKey):
            store.sign_in(nicknames[n // 4], WRONG[n % 4])
    with pytest.raises(TooManyTries, match=r"^Too many wrong keys from this network\. Try again in 30 seconds\.$"):
        store.sign_in("Sam", key)
    rate_limit.set_client("198.51.100.2")
    assert store.sign_in("Sam", key) == "Sam"  # another client is not slowed down
    rate_limit.set_client("203.0.113.7")
    clock.wait(30)
    assert store.sign_in("Sam", key) == "Sam"


@pytest.mark.parametrize("kind", ["session", "class", "deck"])
def test_educator_and_owner_tokens_wait_after_ten_wrong_ones(tmp_path, clock, kind):
    store = Store(tmp_path / "p.sqlite3")
    store.key_tries.clock = clock
    make, opens, what = {
        "session": (lambda: store.create_session("Group", EMOTIONS, 5, 1), store.session_report,
                    "educator tokens for this session"),
        "class": (lambda: store.create_class("Blue group"), store.class_view, "educator tokens for this class"),
        "deck": (lambda: store.create_deck("Class photos"), store.owned_deck, "owner tokens for this deck"),
    }[kind]
    made, token = make()
    for n in range(TOKEN_FREE_TRIES):
        with pytest.raises(StoreError, match="does not open"):
            opens(made.code, f"WRONG-TOKEN-{n}")
    with pytest.raises(TooManyTries, match=rf"^Too many wrong {what}\. Try again in 30 seconds\.$"):
        opens(made.code, token)
    clock.wait(30)
    opens(made.code, token)


def test_the_maintainer_key_waits_after_five_wrong_ones_from_anywhere(monkeypatch, clock):
    monkeypatch.setenv("FER_MAINTAINER_KEY", "staff-room-42")
    monkeypatch.setattr(roles, "MAINTAINER_TRIES", Limiter(MemoryCounts(), clock))
    for n in range(5):  # five browsers, one guess each
        assert not unlocks_training(f"guess-{n}", f"198.51.100.{n}")
    with pytest.raises(TooManyTries, match=r"^Too many wrong maintainer keys\. Try again in 30 seconds\.$"):
        unlocks_training("staff-room-42", "192.0.2.1")
    clock.wait(30)
    assert unlocks_training("staff-room-42", "192.0.2.1")


def test_a_client_that_guessed_learner_keys_waits_at_the_maintainer_key_too(tmp_path, monkeypatch, clock):
    monkeypatch.setenv("FER_MAINTAINER_KEY", "staff-room-42")
    monkeypatch.setattr(roles, "MAINTAINER_TRIES", Limiter(MemoryCounts(), clock))
    store = Store(tmp_path / "p.sqlite3")
    rate_limit.set_client("203.0.113.7")
    for n in range(CLIENT_FREE_TRIES):
        with pytest.raises(WrongLearnerKey):
            store.sign_in(f"Someone{n}", WRONG[0])
    with pytest.raises(TooManyTries, match="from this network"):
        unlocks_training("staff-room-42", "203.0.113.7")
    assert unlocks_training("staff-room-42", "198.51.100.2")


# The pages, as a visitor sees them (AppTest has no network address: a client is a browser session).

@pytest.fixture
def progress_page(monkeypatch, tmp_path, folder_dataset):
    monkeypatch.setenv("FER_DB", str(tmp_path / "p.sqlite3"))
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no-model.keras"))
    return Store(tmp_path / "p.sqlite3")


def said(element) -> str:
    return element.value.replace("\\", "")  # as shown: without the escapes that keep Markdown out


def browser():
    return AppTest.from_file("../pages/progress.py", default_timeout=60).run()


def test_the_sign_in_form_says_how_long_to_wait_after_too_many_wrong_keys(progress_page):
    _, key = progress_page.register_learner("Sam")
    app = browser()
    for wrong in WRONG[:5]:
        assert "does not open the nickname" in sign_in(app, "Sam", wrong).warning[0].value
    sign_in(app, "Sam", key)  # the right key, too soon
    assert not app.exception and "learner" not in app.session_state
    assert len(app.warning) == 1
    assert re.fullmatch(r"Too many wrong keys for this nickname\. Try again in [1-3]?\d seconds\.",
                        said(app.warning[0]))


def test_a_browser_that_guessed_many_nicknames_waits_and_another_does_not(progress_page):
    _, key = progress_page.register_learner("Sam")
    guesser = browser()
    for n in range(CLIENT_FREE_TRIES):
        sign_in(guesser, f"Someone{n}", WRONG[0])
    sign_in(guesser, "Sam", key)
    assert said(guesser.warning[0]).startswith("Too many wrong keys from this network. Try again in")
    assert "learner" not in guesser.session_state
    assert "Practising as" in sign_in(browser(), "Sam", key).caption[0].value


def test_the_train_page_says_how_long_to_wait_after_too_many_wrong_maintainer_keys(monkeypatch, tmp_path,
                                                                                  folder_dataset):
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_TRAINED_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("FER_ACTIVE_MODEL_FILE", str(tmp_path / "active.json"))
    monkeypatch.setenv("FER_MAINTAINER_KEY", "staff-room-42")
    monkeypatch.setattr(roles, "MAINTAINER_TRIES", Limiter(MemoryCounts()))
    app = AppTest.from_file("../pages/train.py", default_timeout=60).run()
    for typed in [*WRONG[:5], "staff-room-42"]:
        next(t for t in app.text_input if t.label == "Maintainer key").input(typed)
        next(b for b in app.button if b.label == "Unlock training").click()
        app.run()
    assert len(app.warning) == 1
    assert re.fullmatch(r"Too many wrong maintainer keys\. Try again in [1-3]?\d seconds\.", said(app.warning[0]))
    assert not any(b.label == "Start" for b in app.button)
