"""Live mirror: pick an emotion, start the camera, and see how strongly the model reads it as you move. The
video is read in this browser (ui/camera_reader); the server sees only the still of a goal held."""
import cv2
import streamlit as st

from fercore.errors import ArtifactError
from fercore.explain import explain_face, landmarks_in_crop, overlay
from fercore.images import ImageError
from fercore.labels import EMOTIONS
from fercore.mirror import Held, held_from_still
from ui.camera_reader.component import camera_reader, files_or_stop
from ui.display import current
from ui.resources import active_predictor, model_problem
from ui.text import plain

PRIVACY = ("The video stays on this device: the face is found and read here, in this browser, and no frame is "
           "sent anywhere. Only when you hold a goal does its one still come to this app's server, to show "
           "where the model looked; it is kept until you close the tab, and never written to disk.")
NO_VIDEO = "Mirror practice on the Your photo page works with single pictures instead."
WORDS = {"refused": f"The camera was refused, so the mirror can't see you. {NO_VIDEO}",
         "missing": f"No camera could be opened on this device. {NO_VIDEO}",
         "reader": f"This browser can't run the mirror's reader (it needs a browser from 2023 or later). {NO_VIDEO}"}

st.title("Live mirror")
st.caption(PRIVACY)


def held_it(held: Held, target: int, level: float) -> None:
    predictor = active_predictor()
    if st.session_state.get("held_shown", (None,))[0] is not held:  # the map once per hold, not every run
        explained = explain_face(predictor.model, held.face.crop, held.probabilities, landmarks_in_crop(held.face))
        st.session_state["held_shown"] = (held, explained)
    explained = st.session_state["held_shown"][1]
    top, name = EMOTIONS[explained.class_index], EMOTIONS[target]
    st.subheader("You held it")
    still, heat = st.columns(2)  # the still keeps the video's shape; only the face is square
    still.image(cv2.cvtColor(held.picture(target, level), cv2.COLOR_BGR2RGB), width=320,
                caption=f"your best frame: {name} at {held.probabilities[target]:.0%}",
                alt=f"Your best frame while you held {name}, with your face outlined.")
    heat.image(overlay(cv2.resize(held.face.crop, (192, 192), interpolation=cv2.INTER_LANCZOS4), explained.heatmap),
               width=192, caption=f"where the model looked for {top} (outlined)",
               alt=f"Your face under a heatmap: dimmed except where the model looked for {top}, which is outlined. "
               f"{explained.words}")
    st.caption(f"{explained.words} The model reads expressions in pixels; it can't know how anyone feels.".strip())
    st.button("Try again", on_click=try_again)


def try_again() -> None:
    st.session_state.pop("live_held", None)
    st.session_state["live_round"] = st.session_state.get("live_round", 0) + 1  # the reader's goal starts afresh


def keep(sent: dict) -> None:
    """The still the reader sent for this round's goal, with its face found here; a plain sentence if not."""
    if sent.get("round") != st.session_state.get("live_round", 0):
        return  # a goal held just before Try again
    try:
        st.session_state["live_held"] = (held_from_still(sent.get("still"), sent.get("probabilities")),
                                         int(sent["target"]), float(sent["level"]))
    except (ImageError, KeyError, TypeError, ValueError) as exc:
        st.session_state.pop("live_held", None)
        st.warning(plain(str(exc)) if isinstance(exc, ImageError) else "The still from the camera did not arrive whole.")


files = files_or_stop()

target = st.selectbox("Emotion to practise", EMOTIONS, index=EMOTIONS.index("happy"), key="live_target")
goal = st.toggle("Goal: hold it for about two seconds", key="live_goal",
                 help="Hold the emotion above a level you choose; the best frame is kept with where the model looked.")
# shown only with the goal on: a disabled slider's greyed label fails WCAG's contrast
level = st.slider("Level to hold it above", 30, 95, 60, 5, format="%d%%", key="live_level") if goal else None
held = camera_reader(files, target, level / 100 if level else None, current().reduced_motion,
                     st.session_state.get("live_round", 0), WORDS)["held"]
if held:
    keep(held)
if "live_held" in st.session_state:
    try:
        held_it(*st.session_state["live_held"])
    except ArtifactError as exc:
        model_problem(exc)
