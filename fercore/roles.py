"""Who may change what every visitor gets: starting, stopping and tuning training, and choosing the
model the app uses, need the maintainer's key, set in FER_MAINTAINER_KEY when the server starts.
Without it the server is read-only for everyone."""
from __future__ import annotations

import hmac
import os

from fercore.rate_limit import Guard, Limiter, MemoryCounts, client_guard, try_key

MAINTAINER_KEY_VARIABLE = "FER_MAINTAINER_KEY"
# Wrong maintainer keys, in this process's memory: the key is this server's own (docs/deploy.md gives it
# to one server only), so no other server needs the count.
MAINTAINER_TRIES = Limiter(MemoryCounts())


def maintainer_key_set() -> bool:
    return bool(os.environ.get(MAINTAINER_KEY_VARIABLE, "").strip())


def is_maintainer_key(typed: str) -> bool:
    key = os.environ.get(MAINTAINER_KEY_VARIABLE, "").strip()
    return bool(key) and hmac.compare_digest(str(typed).strip().encode(), key.encode())


def unlocks_training(typed: str, client: str | None) -> bool:
    """Whether typed is the maintainer key; raises rate_limit.TooManyTries while wrong maintainer keys, or
    wrong keys from this client, must wait. client: the browser's address, else its session."""
    typed = str(typed).strip()
    return try_key("maintainer", typed, lambda: is_maintainer_key(typed),
                   Guard(MAINTAINER_TRIES, "maintainer", "Too many wrong maintainer keys."), client_guard(client))
