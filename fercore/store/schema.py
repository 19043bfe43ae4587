"""The tables, once for SQLite and once for PostgreSQL, and the schema's version."""
from fercore.labels import NUM_CLASSES

SCHEMA_VERSION = 9  # SQLite: PRAGMA user_version; PostgreSQL: schema_version; 2 added display_choices, 3 learners,
# 4 answers.question_id, 5 decks, deck_faces, answers.deck and sessions.deck, 6 classes, class_members,
# focuses and sessions.class_code, 7 decks.deleted_at, 8 wrong_keys, learners.look and
# learners.look_folded, 9 answers_with_people
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    code        TEXT PRIMARY KEY,          -- the join code learners type
    name        TEXT NOT NULL,
    emotions    TEXT NOT NULL,             -- comma-separated emotion names to practise
    questions   INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    token_hash  TEXT NOT NULL,             -- sha256 of the educator token, never the token
    created_at  TEXT NOT NULL              -- ISO 8601, UTC
);
CREATE TABLE IF NOT EXISTS answers (
    id          INTEGER PRIMARY KEY,
    answered_at TEXT NOT NULL,             -- ISO 8601, UTC
    learner     TEXT NOT NULL COLLATE NOCASE,
    session     TEXT REFERENCES sessions (code),
    face_id     TEXT NOT NULL,
    true_label  INTEGER NOT NULL CHECK (true_label BETWEEN 0 AND {NUM_CLASSES - 1}),  -- index into EMOTIONS
    guess       INTEGER NOT NULL CHECK (guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_guess INTEGER NOT NULL CHECK (model_guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    level       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS display_choices (
    learner     TEXT PRIMARY KEY COLLATE NOCASE,
    choices     TEXT NOT NULL              -- comma-separated names of the DisplayChoices that are on
);
CREATE TABLE IF NOT EXISTS learners (
    folded      TEXT PRIMARY KEY,          -- the nickname case-folded (any alphabet): how it is looked up
    name        TEXT NOT NULL,             -- as first typed
    key_hash    TEXT NOT NULL,             -- sha256 of the learner's key, never the key
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_learner ON answers (learner);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers (session);
CREATE TABLE IF NOT EXISTS decks (
    code        TEXT PRIMARY KEY,          -- the share code learners type
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,             -- sha256 of the owner token, never the token
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deck_faces (  -- only face crops: never a whole photo, its file name or metadata
    id          INTEGER PRIMARY KEY,
    deck        TEXT NOT NULL REFERENCES decks (code) ON DELETE CASCADE,
    label       INTEGER NOT NULL CHECK (label BETWEEN 0 AND {NUM_CLASSES - 1}),
    crop        BLOB NOT NULL,             -- the levelled face in colour, JPEG re-encoded from pixels
    reading     BLOB NOT NULL,             -- its 48x48 grayscale copy, PNG, what the model reads
    added_at    TEXT NOT NULL,
    model       TEXT,                      -- the digest of the model whose probabilities follow
    readings    BLOB                       -- that model's 7 probabilities (float32), so no quiz waits for it
);
CREATE INDEX IF NOT EXISTS deck_faces_by_deck ON deck_faces (deck);
CREATE TABLE IF NOT EXISTS classes (
    code        TEXT PRIMARY KEY,          -- the join code (never the same as a session's)
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,             -- sha256 of the educator token, never the token
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS class_members (
    class_code  TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE,
    learner     TEXT NOT NULL,             -- learners.folded
    joined_at   TEXT NOT NULL,             -- the educator sees the learner's answers from then on
    PRIMARY KEY (class_code, learner)
);
CREATE TABLE IF NOT EXISTS focuses (
    class_code  TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE,
    learner     TEXT NOT NULL,             -- learners.folded, or '' for the whole class
    emotions    TEXT NOT NULL,             -- comma-separated emotion names
    level       INTEGER NOT NULL,
    note        TEXT NOT NULL,
    set_at      TEXT NOT NULL,
    deck        TEXT REFERENCES decks (code) ON DELETE SET NULL,  -- to practise on, if any
    PRIMARY KEY (class_code, learner)
);
CREATE TABLE IF NOT EXISTS wrong_keys (  -- fercore.rate_limit: guesses slowed down on every app server
    scope       TEXT PRIMARY KEY,          -- what the keys were typed for: learner:<folded>, sessions:<code>...
    failures    INTEGER NOT NULL,          -- wrong keys, each within a quarter hour of the one before
    last_at     REAL NOT NULL,             -- the latest, in seconds since 1970
    tried       TEXT NOT NULL              -- a digest of it: the same wrong key again is not counted again
);
CREATE TABLE IF NOT EXISTS answers_with_people (  -- practice with a partner in the room: nothing of the partner
    id          INTEGER PRIMARY KEY,
    answered_at TEXT NOT NULL,             -- ISO 8601, UTC
    learner     TEXT NOT NULL COLLATE NOCASE,  -- as in answers
    session     TEXT REFERENCES sessions (code) ON DELETE CASCADE,
    question_id TEXT NOT NULL UNIQUE,      -- one answer per question, however often sent
    game        TEXT NOT NULL,             -- "guess": Guess the face
    intended    INTEGER NOT NULL CHECK (intended BETWEEN 0 AND {NUM_CLASSES - 1}),  -- the partner's, into EMOTIONS
    choice      INTEGER NOT NULL CHECK (choice BETWEEN 0 AND {NUM_CLASSES - 1}),  -- the learner's
    model_reading INTEGER CHECK (model_reading BETWEEN 0 AND {NUM_CLASSES - 1}),  -- NULL: no face was found
    model_probability REAL CHECK (model_probability BETWEEN 0 AND 1)  -- the model's, of model_reading
);
CREATE INDEX IF NOT EXISTS answers_with_people_by_learner ON answers_with_people (learner);
CREATE INDEX IF NOT EXISTS answers_with_people_by_session ON answers_with_people (session);
"""
# The same tables, columns in the same order (some INSERTs rely on it). Times are ISO text compared with
# `<`, so they sort bytewise (COLLATE "C") whatever the database's locale. ON DELETE CASCADE: writers here
# run side by side, so an answer saved between a deletion's two statements goes with its session.
POSTGRES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    emotions    TEXT NOT NULL,
    questions   INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    token_hash  TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    answered_at TEXT COLLATE "C" NOT NULL,
    learner     TEXT NOT NULL,
    session     TEXT REFERENCES sessions (code) ON DELETE CASCADE,
    face_id     TEXT NOT NULL,
    true_label  INTEGER NOT NULL CHECK (true_label BETWEEN 0 AND {NUM_CLASSES - 1}),
    guess       INTEGER NOT NULL CHECK (guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_guess INTEGER NOT NULL CHECK (model_guess BETWEEN 0 AND {NUM_CLASSES - 1}),
    level       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS display_choices (
    learner     TEXT NOT NULL,
    choices     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    folded      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS display_choices_by_learner ON display_choices (lower(learner COLLATE "C"));
CREATE INDEX IF NOT EXISTS answers_by_learner ON answers (lower(learner COLLATE "C"));
CREATE INDEX IF NOT EXISTS answers_by_session ON answers (session);
CREATE TABLE IF NOT EXISTS decks (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS deck_faces (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deck        TEXT NOT NULL REFERENCES decks (code) ON DELETE CASCADE,
    label       INTEGER NOT NULL CHECK (label BETWEEN 0 AND {NUM_CLASSES - 1}),
    crop        BYTEA NOT NULL,
    reading     BYTEA NOT NULL,
    added_at    TEXT COLLATE "C" NOT NULL,
    model       TEXT,
    readings    BYTEA
);
CREATE INDEX IF NOT EXISTS deck_faces_by_deck ON deck_faces (deck);
CREATE TABLE IF NOT EXISTS classes (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS class_members (
    class_code  TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE,
    learner     TEXT NOT NULL,
    joined_at   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (class_code, learner)
);
CREATE TABLE IF NOT EXISTS focuses (
    class_code  TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE,
    learner     TEXT NOT NULL,
    emotions    TEXT NOT NULL,
    level       INTEGER NOT NULL,
    note        TEXT NOT NULL,
    set_at      TEXT COLLATE "C" NOT NULL,
    deck        TEXT REFERENCES decks (code) ON DELETE SET NULL,
    PRIMARY KEY (class_code, learner)
);
CREATE TABLE IF NOT EXISTS wrong_keys (
    scope       TEXT PRIMARY KEY,
    failures    INTEGER NOT NULL,
    last_at     DOUBLE PRECISION NOT NULL,
    tried       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answers_with_people (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    answered_at TEXT COLLATE "C" NOT NULL,
    learner     TEXT NOT NULL,
    session     TEXT REFERENCES sessions (code) ON DELETE CASCADE,
    question_id TEXT NOT NULL UNIQUE,
    game        TEXT NOT NULL,
    intended    INTEGER NOT NULL CHECK (intended BETWEEN 0 AND {NUM_CLASSES - 1}),
    choice      INTEGER NOT NULL CHECK (choice BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_reading INTEGER CHECK (model_reading BETWEEN 0 AND {NUM_CLASSES - 1}),
    model_probability DOUBLE PRECISION CHECK (model_probability BETWEEN 0 AND 1)
);
CREATE INDEX IF NOT EXISTS answers_with_people_by_learner ON answers_with_people (lower(learner COLLATE "C"));
CREATE INDEX IF NOT EXISTS answers_with_people_by_session ON answers_with_people (session);
"""
# Columns added to a table after its first version, the same in both databases: a database from before
# gains them at the end of the table, a new one right after its tables are made.
ADDED_COLUMNS = {
    "answers": {
        "question_id": "TEXT",  # the question answered: one answer per question, however often sent
        "deck": "TEXT REFERENCES decks (code) ON DELETE CASCADE",  # a practice deck's code; NULL: FER2013
    },
    "sessions": {
        "deck": "TEXT REFERENCES decks (code) ON DELETE CASCADE",  # a session run on a deck
        "class_code": "TEXT",  # the class a session is run in, if any
    },
    # A deck its owner deleted keeps its row, emptied, until it expires: sessions run on it (theirs or other
    # educators') keep their answers, which a deleted row would take with it (ON DELETE CASCADE above).
    "decks": {
        "deleted_at": "TEXT",
    },
    "learners": {
        # identity.look_alike_keys of the name: a new nickname may not look like a taken one
        "look": "TEXT",
        "look_folded": "TEXT",
    },
}
# Indexes on added columns, made once the columns exist. NULLs (answers from before) never collide.
ADDED_INDEXES = ("CREATE UNIQUE INDEX IF NOT EXISTS answers_by_question ON answers (question_id);"
                 "CREATE INDEX IF NOT EXISTS answers_by_deck ON answers (deck);"
                 "CREATE INDEX IF NOT EXISTS learners_by_look ON learners (look);"
                 "CREATE INDEX IF NOT EXISTS learners_by_folded_look ON learners (look_folded);")
SCHEMA_LOCK = 0x6665_7263_6F72_65  # "fercore": the advisory lock held while PostgreSQL's schema is created
