"""How long the store keeps answers, sessions, classes and decks: FER_RETENTION_DAYS, default 180 days."""
import os

from fercore.store.errors import StoreError

RETENTION_DAYS = 180


def retention_days() -> int:
    """FER_RETENTION_DAYS, else RETENTION_DAYS."""
    text = os.environ.get("FER_RETENTION_DAYS", "")
    try:
        days = int(text) if text else RETENTION_DAYS
    except ValueError:
        raise StoreError(f"FER_RETENTION_DAYS must be a whole number of days, not {text!r}.") from None
    if days < 1:
        raise StoreError("FER_RETENTION_DAYS must be at least 1.")
    return days
