"""Who is who: nicknames as kept and as compared (whatever the case, in any alphabet), session codes as
typed, and the random learner keys and educator tokens, of which only a hash is kept."""
from __future__ import annotations

import functools
import hashlib
import secrets
import unicodedata

from confusable_homoglyphs import confusables

from fercore.store.errors import StoreError

CLEAR_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 6
TOKEN_GROUPS = 3  # the educator token: three groups of four, about 59 random bits
KEY_GROUPS = 2  # a learner's key: two groups of four, about 40 bits, short enough to say aloud
NICKNAME_MAX = 30


def normalize_nickname(nickname: str) -> str:
    """Trimmed, single-spaced, NFKC; letters, digits, space, - _ . only, so a CSV cell never starts a formula."""
    name = " ".join(unicodedata.normalize("NFKC", str(nickname)).split())
    if not 1 <= len(name) <= NICKNAME_MAX:
        raise StoreError(f"A nickname needs 1 to {NICKNAME_MAX} characters.")
    if not name[0].isalnum() or not all(c.isalnum() or c in " -_." for c in name):
        raise StoreError("A nickname may use letters, digits, spaces and - _ . and must start with a letter or digit.")
    return name


def fold(nickname: str) -> str:
    """How nicknames are compared: "ZOË" and "zoë" are the same learner."""
    return normalize_nickname(nickname).casefold()


def look_alike_keys(nickname: str) -> tuple[str, str]:
    """Two keys, each equal for nicknames that look alike: as written ("AIiceSec" with a capital i, like
    "AliceSec") and whatever the case ("АLICESEC" with a Cyrillic А, like "AliceSec", which is "ALICESEC"
    too). Each letter becomes one chosen among those that Unicode's confusables list (UTS #39) says look
    like it; case folded first, a capital I would be an i, no longer like an l."""
    # NFD: a Cyrillic ё becomes е and a diaeresis, as a Latin ë becomes e and one.
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", nickname))
    return _look_alike(decomposed), _look_alike(decomposed.casefold())


def _look_alike(text: str) -> str:
    return "".join(_look_alike_letter(c) for c in text)


@functools.cache
def _look_alike_letter(letter: str) -> str:
    """The first in code-point order of all the letters that look like `letter`, directly or through others
    (confusable_homoglyphs lists for each letter those that look like it). Letters that look like two
    letters ("rn" and "m") are left out."""
    alike, waiting = {letter}, [letter]
    while waiting:
        for found in confusables.is_confusable(waiting.pop(), greedy=True) or []:
            for glyph in found["homoglyphs"]:
                if len(glyph["c"]) == 1 and glyph["c"] not in alike:
                    alike.add(glyph["c"])
                    waiting.append(glyph["c"])
    return min(alike)


def normalize_code(text: str) -> str:
    """What people type -> the stored form: case, spaces and dashes do not matter."""
    return "".join(str(text).split()).replace("-", "").upper()


def _random_text(length: int) -> str:
    return "".join(secrets.choice(CLEAR_ALPHABET) for _ in range(length))


def _hash(token: str) -> str:
    # A plain hash suffices: the token is random with ~59 bits, not a password a person chose.
    return hashlib.sha256(normalize_code(token).encode()).hexdigest()
