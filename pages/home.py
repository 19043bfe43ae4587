import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui.dataset_panel import dataset_panel, dataset_problem

st.title("Reading facial emotions")
st.markdown(
    """
fercore is a calm place to practise recognising emotions in faces, at your own pace and with no
timers. It is made for anyone who finds facial expressions hard to read, and for educators who run
practice sessions with a group. A model trained on FER2013, a public set of small grayscale face
photos labelled angry, disgust, fear, happy, sad, surprise or neutral, reads each face alongside you.

Those labels are noisy: people agree with them only about 65% of the time, so neither you nor the
model will match them always. The model reads expressions in pixels; it cannot know what anyone feels.
"""
)
LINKS = [
    ("pages/quiz.py", "Practise with the quiz", ":material/quiz:"),
    ("pages/progress.py", "See your progress", ":material/insights:"),
    ("pages/upload.py", "Try your own photo", ":material/photo_camera:"),
    ("pages/educator.py", "Run a class session", ":material/groups:"),
    ("pages/train.py", "Train a model", ":material/model_training:"),
    ("pages/about.py", "About the model", ":material/info:"),
]
for column, (page, label, icon) in zip(st.columns(3) * 2, LINKS):
    try:
        column.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:  # this page run on its own, without navigation.py
        column.markdown(f"{label}: open it from `streamlit run app.py`")

missing_data = dataset_problem()  # the set-up check: without FER2013 the quiz has no faces to show
if missing_data:
    dataset_panel(missing_data, "The quiz, class sessions and training use faces from FER2013")
