"""fercore: practise reading facial emotions. Start with `streamlit run app.py`."""
import streamlit as st

st.set_page_config(page_title="fercore: reading facial emotions", page_icon="🙂", layout="wide")

navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
])
navigation.run()
