"""The app shell starts and each page also runs on its own."""
from streamlit.testing.v1 import AppTest


def test_app_starts_on_the_home_page():
    app = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not app.exception
    assert "Reading facial emotions" in app.title[0].value
