import streamlit as st

st.title("Reading facial emotions")
st.markdown(
    """
fercore is a calm place to practise recognising emotions in faces, at your own pace. It uses a
model trained on FER2013, a public set of small grayscale face photos labelled with seven
emotions: angry, disgust, fear, happy, sad, surprise and neutral.

The labels are noisy: people agree with them only about 65% of the time, so neither you nor the
model should expect to match them always. The model reads expressions in photos; it cannot know
what anyone actually feels.
"""
)
