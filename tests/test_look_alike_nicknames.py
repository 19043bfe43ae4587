"""A new nickname may not look like a taken one: "АliceSec" with a Cyrillic А is refused beside "AliceSec".
Names written in any one alphabet, and the learners already registered, are not affected."""
import pytest

from fercore.store import NicknameTaken, Store
from fercore.store.identity import _hash

LOOK_ALIKES = [
    "\u0410liceSec",  # a Cyrillic А
    "AIiceSec",  # a capital i for the l
    "\u0410LICESEC",  # a Cyrillic А, in capitals ("ALICESEC" is AliceSec)
    "\u0391lice\u0405ec",  # a Greek Α and a Cyrillic Ѕ
    "\u0430li\u0441e\u0455e\u0441",  # Cyrillic а, с and ѕ, lower case
]


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
def test_a_nickname_that_looks_like_a_taken_one_is_refused(db, look_alike):
    store = Store(db)
    store.register_learner("AliceSec")
    with pytest.raises(NicknameTaken, match=r"looks just like AliceSec, which is taken: choose another nickname\.$"):
        store.register_learner(look_alike)
    assert not store.is_registered(look_alike)


def test_ordinary_names_in_any_alphabet_are_accepted(db):
    store = Store(db)
    names = ["AliceSec", "Alice", "Sergei", "Сергей", "李明", "Zoë", "Зоя", "αλέξης", "Lia", "Ila", "Ian", "Mia",
             "Mila", "Anna-Maria"]
    for name in names:  # each written in one alphabet, however alike some of their letters
        assert store.register_learner(name)[0] == name


def test_learners_registered_before_keep_signing_in_and_are_compared_with(db):
    store = Store(db)
    _, key = store.register_learner("AliceSec")
    # As kept before look-alikes were compared: no look-alike keys, and a look-alike pair already registered.
    store._execute("UPDATE learners SET look = NULL, look_folded = NULL")
    store._execute("INSERT INTO learners (folded, name, key_hash, created_at) VALUES (?, ?, ?, ?)",
                   ("\u0430licesec", "\u0410liceSec", _hash("ABCD-EFGH"), "2026-01-01T00:00:00+00:00"))
    assert store.sign_in("alicesec", key) == "AliceSec"
    assert store.sign_in("\u0410liceSec", "ABCD-EFGH") == "\u0410liceSec"
    with pytest.raises(NicknameTaken, match="looks just like"):
        store.register_learner("AIiceSec")
    assert store.sign_in("AliceSec", key) == "AliceSec"
