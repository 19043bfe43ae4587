"""Learners' answers (the quiz's and with people), educators' sessions and classes, practice decks: kept in SQLite
or PostgreSQL. No TensorFlow.

Bottom up: errors, records and identity (nicknames, codes, keys); statistics over records; schema, then
backends (the two databases behind one seam); retention; classrooms, practice_decks and with_people (parts of
the Store); store, the Store on top. Import from here: every name the rest of fercore, the pages, the tests and
the benchmarks use.
"""
from fercore.store.backends import BUSY_TIMEOUT_S, POOL_SIZE, POOL_WAIT_S, default_db_path, is_postgres_url
from fercore.store.classrooms import CLASS_NAME_MAX, NOTE_MAX
from fercore.store.errors import (NicknameTaken, StoreError, StoreUnavailable, UnknownClassCode, UnknownDeckCode,
                                  UnknownSessionCode, WrongEducatorToken, WrongLearnerKey, WrongOwnerToken)
from fercore.store.identity import (CLEAR_ALPHABET, CODE_LENGTH, KEY_GROUPS, NICKNAME_MAX, TOKEN_GROUPS, fold,
                                    normalize_code, normalize_nickname)
from fercore.store.records import (Answer, ClassMember, Classroom, ClassView, Deck, DeckFace, DisplayChoices, Focus,
                                   Membership, MissedFace, PeopleAnswer, PeopleTally, Period, Session, SessionReport,
                                   SessionResult, StoredAnswer, StoredPeopleAnswer, Tally, YouVsModel)
from fercore.store.schema import POSTGRES_SCHEMA, SCHEMA, SCHEMA_LOCK, SCHEMA_VERSION
from fercore.store.statistics import MOST_MISSED, SITTING_GAP, TREND_WINDOW, confusion_matrix, trend_window, trends
from fercore.store.practice_decks import CROP_BYTES_MAX, DECK_FACES_MAX, DECK_NAME_MAX
from fercore.store.retention import RETENTION_DAYS, retention_days
from fercore.store.store import CSV_COLUMNS, CSV_TIME, SESSION_NAME_MAX, Store
from fercore.store.with_people import GAMES
