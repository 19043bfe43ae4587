import streamlit as st

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
left, middle, right = st.columns(3)
left.page_link("pages/quiz.py", label="Practise with the quiz", icon=":material/quiz:")
left.page_link("pages/progress.py", label="See your progress", icon=":material/insights:")
middle.page_link("pages/upload.py", label="Try your own photo", icon=":material/photo_camera:")
middle.page_link("pages/educator.py", label="Run a class session", icon=":material/groups:")
right.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
right.page_link("pages/about.py", label="About the model", icon=":material/info:")
