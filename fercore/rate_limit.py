"""Slowing down key guessing (rate limiting): wrong learner keys, educator and owner tokens, and maintainer
keys. A few wrong keys pass freely (typos); after them each wrong key makes the next try wait longer,
doubling up to a few minutes. A try made too early is refused at once with TooManyTries, a sentence that
says how long to wait: nothing sleeps, so no server thread is held.

Wrong keys are counted twice: for what they were typed for (a nickname, a session, class or deck code, the
maintainer key) and for the client who typed them (a network address, else a browser session). Where the
counts live:
- per nickname and code, in the store (fercore.store.wrong_keys): every app server sharing a database
  shares them, so guesses spread over several servers or across a restart still meet one count, and no
  visitor can clear them (a browser may ask the app to empty its caches; never the database);
- per client, in this process's memory (CLIENTS): an address is personal data the app keeps nowhere
  else, so it is never written down, and it is forgotten a quarter hour after its last wrong key;
- the maintainer key's, in this process's memory too (fercore.roles): only one server holds that key.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Protocol

from fercore.errors import FercoreError

FREE_TRIES = 5  # wrong keys for one nickname that cost nothing: a few typos
TOKEN_FREE_TRIES = 10  # a 12-character token typed from paper: more typos, and ~59 random bits to guess
CLIENT_FREE_TRIES = 20  # a class behind one school address is one client: its typos add up
FIRST_WAIT_S = 30.0
LONGEST_WAIT_S = 300.0
FORGET_AFTER_S = 900.0  # a quarter hour without a wrong key and the count starts again
CLIENT_REFUSAL = "Too many wrong keys from this network."
_MEMORY_PRUNE_AT = 10_000  # counts kept in memory before the stale ones are dropped


class TooManyTries(FercoreError):
    pass


@dataclass(frozen=True)
class Count:
    failures: int  # wrong keys, none more than FORGET_AFTER_S after the one before
    last_at: float  # the latest one, in the clock's seconds
    tried: str  # a digest of the latest one: the same wrong key again is one mistake, not another guess


class Counts(Protocol):
    """Where a limiter keeps its counts, by scope (what a key was typed for)."""

    def get(self, scope: str) -> Count | None: ...

    def add_failure(self, scope: str, tried: str, now: float, forget_before: float) -> None: ...


def counted(old: Count | None, tried: str, now: float, forget_before: float) -> Count:
    """A count after one more wrong key: a stale count starts again, a repeated key adds nothing."""
    if old is None or old.last_at <= forget_before:
        return Count(1, now, tried)
    return old if old.tried == tried else Count(old.failures + 1, now, tried)


class MemoryCounts:
    """Counts in this process's memory, shared by its threads; a restart forgets them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, Count] = {}

    def get(self, scope: str) -> Count | None:
        with self._lock:
            return self._counts.get(scope)

    def add_failure(self, scope: str, tried: str, now: float, forget_before: float) -> None:
        with self._lock:
            if len(self._counts) >= _MEMORY_PRUNE_AT:
                self._counts = {s: c for s, c in self._counts.items() if c.last_at >= forget_before}
            self._counts[scope] = counted(self._counts.get(scope), tried, now, forget_before)


def wait_s(failures: int, free: int) -> float:
    """How long after the latest of `failures` wrong keys the next try waits."""
    if failures < free:
        return 0.0
    return min(FIRST_WAIT_S * 2 ** min(failures - free, 16), LONGEST_WAIT_S)


@dataclass
class Limiter:
    counts: Counts
    clock: Callable[[], float] = time.time  # seconds; tests pass a clock they move on, not sleep

    def seconds_left(self, scope: str, free: int) -> float:
        count, now = self.counts.get(scope), self.clock()
        if count is None or now - count.last_at >= FORGET_AFTER_S:
            return 0.0
        return max(0.0, count.last_at + wait_s(count.failures, free) - now)

    def failed(self, scope: str, tried: str) -> None:
        now = self.clock()
        self.counts.add_failure(scope, tried, now, now - FORGET_AFTER_S)


@dataclass(frozen=True)
class Guard:
    """One count a try must pass and a wrong key adds to."""
    limiter: Limiter
    scope: str | None  # None: nothing to count (a client the caller doesn't know)
    refusal: str  # the sentence, before "Try again in ..."
    free: int = FREE_TRIES


def try_key(target: str, key: str, opens: Callable[[], bool], *guards: Guard) -> bool:
    """Whether `opens()` (the key check) says yes, once every guard lets the try through; a wrong key counts
    against every guard. target: what the key was typed for, with key naming the try (a repeat is one)."""
    guards = tuple(g for g in guards if g.scope is not None)
    for guard in guards:
        left = guard.limiter.seconds_left(guard.scope, guard.free)
        if left > 0:
            raise TooManyTries(f"{guard.refusal} Try again in {in_words(left)}.")
    if opens():
        return True
    tried = hashlib.sha256(f"{target}\0{key}".encode()).hexdigest()[:32]
    for guard in guards:
        guard.limiter.failed(guard.scope, tried)
    return False


def in_words(seconds: float) -> str:
    if seconds <= 59:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n > 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minute{'s' if n > 1 else ''}"


# Who is typing keys now: the app sets it in the thread that serves a browser (ui.resources.store), so
# that every Store method that checks a key or token counts per client without a client parameter.
_client: ContextVar[str | None] = ContextVar("fercore_client", default=None)

CLIENTS = Limiter(MemoryCounts())


def set_client(client: str | None) -> None:
    _client.set(client)


def client_guard(client: str | None = None) -> Guard:
    """The count of the client given, else of the one set for this thread."""
    return Guard(CLIENTS, client or _client.get(), CLIENT_REFUSAL, CLIENT_FREE_TRIES)
