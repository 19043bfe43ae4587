"""Your own photo: every face in it, how the model reads each one, and where it looked."""
import hashlib

import cv2
import pandas as pd
import streamlit as st

from fercore import registry
from fercore.artifact import read_metadata
from fercore.errors import ArtifactError, ImageError
from fercore.explain import overlay
from fercore.images import MAX_FILE_MB
from fercore.labels import EMOTIONS
from fercore.photo import analyse_photo, draw_boxes
from ui import charts
from ui.pictures import square_pictures
from ui.resources import active_predictor, model_problem
from ui.text import plain

MAX_FACES = 20
PRIVACY = ("Your photo stays in this browser session's memory while you look at it: nothing you upload is "
           "written to disk or logged, and it is gone when you close the tab.")
NO_FACE_TIPS = ("No face was found. Faces are easiest to find when they look towards the camera, are evenly "
                "lit and not too small in the picture.")

st.title("Your photo")
st.caption(PRIVACY)


def analysed(raw: bytes, whole_if_none: bool):
    """Analyse once per photo and choice, kept in this session only (not in a shared cache)."""
    key = ("analysis", hashlib.sha256(raw).hexdigest(), whole_if_none)
    if st.session_state.get("analysis_key") != key:
        st.session_state["analysis"] = analyse_photo(raw, active_predictor(), max_faces=MAX_FACES,
                                                     classify_whole_if_none=whole_if_none)
        st.session_state["analysis_key"] = key
    return st.session_state["analysis"]


def show_photo(raw: bytes) -> None:
    digest = hashlib.sha256(raw).hexdigest()
    whole = st.session_state.get("whole_image_for") == digest
    try:
        with st.spinner("Looking for faces..."):
            analysis = analysed(raw, whole)
    except ImageError as exc:
        st.error(f"That file can't be used: {plain(exc)}")
        return
    except ArtifactError as exc:
        model_problem(exc)
        return
    if not analysis.faces:
        st.info(NO_FACE_TIPS)
        st.button("Read the whole image as one face", on_click=st.session_state.__setitem__,
                  args=("whole_image_for", digest))
        return
    found = faces_caption(analysis)
    st.image(draw_boxes(analysis.image, [r.face for r in analysis.faces]), width="stretch", caption=found,
             alt=f"Your photo with a numbered box around each face found. {found}")
    opacity = st.slider("Heatmap strength", 0.0, 1.0, 0.45, 0.05,
                        help="How much the map dims the parts of the face the model relied on least.")
    for result in analysis.faces:
        show_face(result, opacity)


def drawn(crop, heatmap, opacity: float):
    """The map drawn on a 4x enlargement of the 48x48 crop: its outline smooth, not in 48 steps."""
    return overlay(cv2.resize(crop, (192, 192), interpolation=cv2.INTER_LANCZOS4), heatmap, opacity)


def faces_caption(analysis) -> str:
    shown = len(analysis.faces)
    if analysis.whole_image:
        return "No face was found, so the whole image was read as one face."
    if analysis.capped:
        return f"{analysis.found} faces found: the {shown} largest are numbered, row by row from the top left."
    return f"{'1 face' if shown == 1 else f'{shown} faces'} found, numbered row by row from the top left."


def show_face(result, opacity: float) -> None:
    st.subheader(f"Face {result.number}: {result.confidence}")
    crop_col, heat_col, chart_col = square_pictures(f"face-{result.number}").columns([1, 1, 2])
    crop_col.image(result.face.crop, caption="as the model sees it (48x48, eyes levelled)", width=160,
                   alt=f"Face {result.number} cut from the photo, greyscale, as the model sees it.")
    heat_col.image(drawn(result.face.crop, result.heatmap, opacity), width=160,
                   caption=f"where it looked for {result.emotion} (outlined)",
                   alt=f"Face {result.number} under a heatmap: dimmed except where the model looked for "
                   f"{result.emotion}, which is outlined. {result.words}")
    chart_col.plotly_chart(charts.probability_bars(result.probabilities, "Emotion scores"),
                           key=f"bars-{result.number}")
    st.caption(f"{result.words} The model reads expressions in pixels; it can't know how anyone feels.".strip())


def mirror_practice() -> None:
    st.header("Mirror practice")
    st.write("Pick an emotion, make that face at the camera, and see how strongly the model reads it. "
             "Take as long as you like.")
    if not st.toggle("Use the camera for mirror practice", key="mirror_on",
                     help="The browser asks for the camera only once this is on."):
        return
    target = st.selectbox("Emotion to practise", EMOTIONS, index=EMOTIONS.index("happy"))
    shot = st.camera_input("Take a picture", key="mirror_camera")
    if shot is None:
        return
    try:
        analysis = analysed(shot.getvalue(), whole_if_none=False)
    except ImageError as exc:
        st.error(f"That picture can't be used: {plain(exc)}")
        return
    except ArtifactError as exc:
        model_problem(exc)
        return
    if not analysis.faces:
        st.info(NO_FACE_TIPS)
        return
    face = max(analysis.faces, key=lambda r: r.face.box[2])  # the largest face is the learner's
    score = float(face.probabilities[EMOTIONS.index(target)])
    attempts = st.session_state.setdefault("mirror_attempts", [])
    digest = hashlib.sha256(shot.getvalue()).hexdigest()
    if not attempts or attempts[-1]["shot"] != digest:
        attempts.append({"shot": digest, "target": target, "score": score, "model read": face.emotion})
    left, right = square_pictures("mirror").columns(2)
    left.metric(f"How strongly the model reads {target}", f"{score:.0%}")
    looked = f"Where the model looked for {face.emotion} (outlined). {face.words}".strip()
    left.image(drawn(face.face.crop, face.heatmap, 0.45), width=200, caption=looked,
               alt=f"Your face under a heatmap: dimmed except where the model looked for {face.emotion}, "
               f"which is outlined. {face.words}")
    right.plotly_chart(charts.probability_bars(face.probabilities), key="mirror-bars")
    st.caption("Your attempts this session")
    st.dataframe(pd.DataFrame(attempts).drop(columns="shot").rename(columns={"score": "score for target"}),
                 hide_index=True)


try:
    read_metadata(registry.active_model_path())  # quick; the model itself loads as the server starts (app.py)
except ArtifactError as exc:
    model_problem(exc)
    st.stop()

source = st.radio("Photo from", ["A file", "The camera"], horizontal=True)
if source == "A file":
    upload = st.file_uploader("Choose a photo", type=["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"],
                              max_upload_size=MAX_FILE_MB)
else:
    upload = st.camera_input("Take a photo")
if upload is not None:
    show_photo(upload.getvalue())
st.divider()
mirror_practice()
