"""The store's errors: each message is a sentence for the person at the keyboard."""
from fercore.errors import FercoreError


class StoreError(FercoreError):
    pass


class UnknownSessionCode(StoreError):
    pass


class UnknownClassCode(StoreError):
    pass


class WrongEducatorToken(StoreError):
    pass


class NicknameTaken(StoreError):
    pass


class WrongLearnerKey(StoreError):
    pass


class StoreUnavailable(StoreError):
    """The database can't be used now (down, locked, read-only, disk full): nothing was read or saved."""


class UnknownDeckCode(StoreError):
    pass


class WrongOwnerToken(StoreError):
    pass
