"""The pages and what every page shares (the app's script; app.py serves it)."""
import streamlit as st

from ui.display import display_choices
from ui.resources import warm_model
from ui.screen import fit_screen

st.set_page_config(page_title="fercore: reading facial emotions", page_icon="🙂", layout="wide")

# One flat list: with sections, Streamlit nests the headings and links in a way axe-core reports as a
# broken list (rules list and listitem), which screen readers announce wrongly.
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/quiz.py", title="Quiz", icon=":material/quiz:"),
    st.Page("pages/progress.py", title="Progress", icon=":material/insights:"),
    st.Page("pages/upload.py", title="Your photo", icon=":material/photo_camera:"),
    st.Page("pages/mirror.py", title="Live mirror", icon=":material/video_camera_front:"),
    st.Page("pages/partner.py", title="With someone", icon=":material/diversity_3:"),
    st.Page("pages/educator.py", title="Class sessions", icon=":material/groups:"),
    st.Page("pages/classes.py", title="Classes", icon=":material/school:"),
    st.Page("pages/decks.py", title="Practice decks", icon=":material/style:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/about.py", title="About the model", icon=":material/info:"),
]
# Streamlit forgets a widget's value once its page is left; setting these again on every run keeps the
# quiz's class code and settings while the learner visits another page.
QUIZ_SETTINGS = ("class_code", "level", "focus", "show_heatmap", "no_scores")
for key in QUIZ_SETTINGS:
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]
page = st.navigation(PAGES)
display_choices()  # the sidebar's display switches, for every page
fit_screen()  # tablets and phones: the navigation folds away, finger-sized buttons
try:
    page.run()
finally:  # st.stop and st.rerun included: once the first page is drawn (app.py), and a model just switched to
    warm_model()
