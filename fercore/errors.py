"""Errors whose message is meant for the person at the keyboard, not for a traceback."""


class FercoreError(Exception):
    """Base class: the CLI and the app print str(error) and carry on."""


class DatasetError(FercoreError):
    pass


class ArtifactError(FercoreError):
    pass


class ImageError(FercoreError):
    pass
