"""Who may change what every visitor gets: starting, stopping and tuning training, and choosing the
model the app uses, need the maintainer's key, set in FER_MAINTAINER_KEY when the server starts.
Without it the server is read-only for everyone."""
from __future__ import annotations

import hmac
import os

MAINTAINER_KEY_VARIABLE = "FER_MAINTAINER_KEY"


def maintainer_key_set() -> bool:
    return bool(os.environ.get(MAINTAINER_KEY_VARIABLE, "").strip())


def is_maintainer_key(typed: str) -> bool:
    key = os.environ.get(MAINTAINER_KEY_VARIABLE, "").strip()
    return bool(key) and hmac.compare_digest(str(typed).strip().encode(), key.encode())
