"""Streamlit empties every cache of the server, for everyone, when any browser asks over its websocket
("clear_cache"); its frontend only hides the menu item. This app refuses that message from every browser:
its caches never go stale in a way a visitor could mend (models and pools are keyed by file and version),
and no visitor may make every learner's page load the model again. What must last never lived there
anyway (the training job: fercore.jobs)."""
from streamlit.logger import get_logger
from streamlit.runtime.app_session import AppSession

_LOG = get_logger(__name__)
REFUSED = "Refused a browser's request to clear the server's caches"


def refuse_visitors_clearing_caches() -> None:
    """Once per server process, as it starts (app.py): the message is answered with a line in the server's log, no more."""
    AppSession._handle_clear_cache_request = _refuse


def _refuse(session: AppSession) -> None:
    _LOG.warning("%s (session %s).", REFUSED, session.id)
