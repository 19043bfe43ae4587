"""Practice decks: labelled face crops (never whole photos, file names or metadata) under a share code that
anyone may practise on, changed only with the owner token (only its hash kept). Answers on a deck carry its
code and are kept apart from FER2013's. A deleted deck's faces go; class sessions run on it keep their counts.
Part of the Store (a mixin), as classrooms is."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from fercore.labels import EMOTIONS
from fercore.store.errors import StoreError, UnknownDeckCode, WrongOwnerToken
from fercore.store.identity import TOKEN_GROUPS, _hash, _random_text, normalize_code
from fercore.store.records import Deck, DeckFace
from fercore.store.retention import retention_days

DECK_NAME_MAX = 60  # shown on learners' screens: a line
DECK_FACES_MAX = 500
CROP_BYTES_MAX = 256 * 1024  # a face crop, never a whole photo: a 20 MB photo can't slip in as a "crop"


class PracticeDecks:
    """The Store's methods for decks; they use the Store's _execute, _execute_together, expire and
    _insert_under_new_code."""

    def create_deck(self, name: str) -> tuple[Deck, str]:
        """A new, empty deck and its owner token; show the token once, only its hash is kept."""
        name = " ".join(str(name).split())
        if not name or len(name) > DECK_NAME_MAX:
            raise StoreError(f"A deck needs a name of 1 to {DECK_NAME_MAX} characters.")
        self.expire(retention_days())
        token = "-".join(_random_text(4) for _ in range(TOKEN_GROUPS))
        created = datetime.now(timezone.utc)
        code = self._insert_under_new_code("INSERT INTO decks (code, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                                           (name, _hash(token), created.isoformat()))
        return Deck(code, name, created, 0), token

    def open_deck(self, code: str) -> Deck:
        code = normalize_code(code)
        rows = self._execute("SELECT code, name, created_at, COUNT(id), COALESCE(MAX(id), 0), "
                             "COALESCE(SUM(id * (label + 1)), 0) FROM decks LEFT JOIN deck_faces ON deck = code "
                             "WHERE code = ? AND deleted_at IS NULL GROUP BY code, name, created_at", (code,))
        if not rows:
            raise UnknownDeckCode(_deck_gone(code))
        code, name, created_at, faces, newest, labels = rows[0]
        return Deck(code, name, datetime.fromisoformat(created_at), faces, f"{faces}-{newest}-{labels}")

    def deck_faces(self, code: str) -> list[DeckFace]:
        """Every face of the deck, oldest first: anyone with the code may practise on them."""
        deck = self.open_deck(code)
        rows = self._execute("SELECT id, label, crop, reading, model, readings FROM deck_faces WHERE deck = ? "
                             "ORDER BY id", (deck.code,))
        return [DeckFace(id, label, bytes(crop), bytes(reading), model, readings and bytes(readings))
                for id, label, crop, reading, model, readings in rows]

    def keep_deck_readings(self, code: str, model: str, readings: dict[int, bytes]) -> None:
        """A model's probabilities for the deck's faces (face id -> 7 float32), so the next quiz on the deck
        needs no model run. Derived from the faces, so no token: the server computes them."""
        self._execute_together(*[("UPDATE deck_faces SET model = ?, readings = ? WHERE id = ? AND deck = ?",
                                  (model, values, int(face_id), normalize_code(code)))
                                 for face_id, values in readings.items()])

    def add_deck_faces(self, code: str, token: str, faces: Iterable[tuple[int, bytes, bytes]],
                       permission: bool = False) -> int:
        """Add (label, colour crop, 48x48 reading copy) faces, all of them or none; returns how many.
        permission: the owner confirmed the people shown agreed."""
        deck, faces = self.owned_deck(code, token), list(faces)
        if not permission:
            raise StoreError("Confirm that you have the permission of the people shown before adding their faces.")
        if any(not 0 <= label < len(EMOTIONS) or len(crop) > CROP_BYTES_MAX for label, crop, _ in faces):
            raise StoreError("Only face crops with one of the seven emotions can be added to a deck.")
        if deck.faces + len(faces) > DECK_FACES_MAX:
            raise StoreError(_deck_full(deck.faces, len(faces)))
        added = datetime.now(timezone.utc).isoformat()
        # The first statement locks the deck's row (PostgreSQL), so two owners adding at once are counted in turn.
        self._execute_together(
            ("UPDATE decks SET name = name WHERE code = ?", (deck.code,)),
            *[("INSERT INTO deck_faces (deck, label, crop, reading, added_at) VALUES (?, ?, ?, ?, ?)",
               (deck.code, int(label), crop, reading, added)) for label, crop, reading in faces],
            guard=("SELECT COUNT(*) <= ? FROM deck_faces WHERE deck = ?", (DECK_FACES_MAX, deck.code),
                   _deck_full(deck.faces, len(faces))))
        return len(faces)

    def relabel_deck_face(self, code: str, token: str, face_id: int, label: int) -> None:
        deck = self.owned_deck(code, token)
        if not 0 <= label < len(EMOTIONS):
            raise StoreError(f"Choose one of the seven emotions: {', '.join(EMOTIONS)}.")
        self._execute("UPDATE deck_faces SET label = ? WHERE id = ? AND deck = ?",
                      (int(label), int(face_id), deck.code))

    def remove_deck_face(self, code: str, token: str, face_id: int) -> None:
        deck = self.owned_deck(code, token)
        self._execute("DELETE FROM deck_faces WHERE id = ? AND deck = ?", (int(face_id), deck.code))

    def delete_deck(self, code: str, token: str) -> int:
        """Delete the deck's faces, its name and the answers given on it outside class sessions, for good;
        returns how many faces went. Class sessions run on it, the owner's or other educators', keep their
        answers: those are their educators' counts. Its row stays, emptied and marked deleted, for them to
        refer to (Session.deck_deleted) and so that its code is never given to another deck."""
        deck = self.owned_deck(code, token)
        deleted = datetime.now(timezone.utc).isoformat()
        *_, faces = self._execute_together(
            ("UPDATE decks SET name = '', token_hash = '', deleted_at = ? WHERE code = ?", (deleted, deck.code)),
            ("DELETE FROM answers WHERE deck = ? AND session IS NULL", (deck.code,)),
            ("UPDATE focuses SET deck = NULL WHERE deck = ?", (deck.code,)),
            ("DELETE FROM deck_faces WHERE deck = ?", (deck.code,)))
        return faces

    def owned_deck(self, code: str, token: str | None) -> Deck:
        deck = self.open_deck(code)
        if not self._token_opens("decks", deck.code, token):
            raise WrongOwnerToken(f"That owner token does not open deck {deck.code}.")
        return deck


def _deck_gone(code: str) -> str:
    return (f"There is no deck with the code {code or '(empty)'}: it may have been deleted. "
            "Check the code with whoever made the deck.")


def _deck_full(has: int, adding: int) -> str:
    return (f"A deck holds at most {DECK_FACES_MAX} faces: this one has {has}, so these {adding} were not added. "
            "Remove some faces or start another deck.")
