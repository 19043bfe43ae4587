"""fercore: practise reading facial emotions. Start with `streamlit run app.py`.

The server. Soon after it starts, the model the app uses loads in the background (TensorFlow takes seconds
to load), so that the first learner's first answer does not wait for it: once the first page is drawn
(navigation.py), or after QUIET_START_S if nobody has come by then. Not at once: loading holds Python's
lock for seconds, and a first visitor's page would wait. The pages and their navigation are the app's
script, navigation.py."""
import threading
from contextlib import asynccontextmanager

import streamlit as st

from starlette.middleware import Middleware

from ui.camera_reader.files import ROUTES as ON_DEVICE_READER_FILES
from ui.camera_reader.files import CrossOriginIsolation

QUIET_START_S = 5.0


@asynccontextmanager
async def starting(_app):
    from streamlit.runtime.pages_manager import PagesManager

    from ui.cache_clearing import refuse_visitors_clearing_caches
    from ui.resources import warm_model

    # The pages are navigation.py's st.navigation, not Streamlit's legacy pages/ folder, from the first visit
    # on: else a fresh server's first visit by a page's own address (a bookmarked /quiz) runs it alone.
    PagesManager.uses_pages_directory = False
    refuse_visitors_clearing_caches()
    loading = threading.Timer(QUIET_START_S, warm_model)
    loading.daemon = True
    loading.start()
    yield


app = st.App("navigation.py", lifespan=starting, routes=ON_DEVICE_READER_FILES,
             middleware=[Middleware(CrossOriginIsolation)])
