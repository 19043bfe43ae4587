"""Live mirror: pick an emotion, start the camera, and see how strongly the model reads it as you move."""
import cv2
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fercore import registry
from fercore.artifact import read_metadata
from fercore.errors import ArtifactError
from fercore.explain import explain_face, landmarks_in_crop, overlay
from fercore.labels import EMOTIONS
from fercore.mirror import LiveMirror, say
from ui.display import current
from ui.live_video import IceServersError, in_background, rtc_configuration
from ui.resources import active_predictor, model_problem
from ui.screen import fit_video_buttons
from ui.text import plain

PRIVACY = ("The video goes from this browser to this app's server and back, nowhere else. Its frames stay in "
           "memory while they are read: none is written to disk or logged, and they stop when you press Stop "
           "or leave this page. Only the still of a goal you held is kept, until you close the tab.")
NO_VIDEO = ("If the video does not start (no camera, the camera was refused, no connection, or a browser "
            "without live video), mirror practice on the Your photo page works with single pictures.")
# The component's own words, inside its frame: the same sentence where the camera can't be used.
TRANSLATIONS = {"start": "Start the camera", "stop": "Stop", "device_access_denied": f"The camera was refused. {NO_VIDEO}",
                "device_not_available": f"No camera could be opened. {NO_VIDEO}",
                "media_api_not_available": f"This browser has no live video. {NO_VIDEO}"}
REFRESH_S = 1.5  # the meter's text twin and the goal's still: calm, and a screen reader hears no flood

st.title("Live mirror")
st.caption(PRIVACY)


def live_mirror(predictor) -> LiveMirror:
    """This browser session's reader, on the server's one Predictor."""
    live = st.session_state.get("live_mirror")
    if live is None or live.predictor is not predictor:
        live = st.session_state["live_mirror"] = LiveMirror(predictor)
    return live


@st.fragment(run_every=REFRESH_S)
def meter_and_goal(live: LiveMirror) -> None:
    st.markdown(f'<p role="status" aria-live="polite">{say(live.reading, live.target)}</p>', unsafe_allow_html=True)
    if live.goal and live.goal.held is not None:
        held_it(live)


def held_it(live: LiveMirror) -> None:
    held, target = live.goal.held, EMOTIONS[live.target]
    if st.session_state.get("held_shown", (None,))[0] is not held:  # the map once per hold, not every refresh
        explained = explain_face(live.predictor.model, held.face.crop, held.probabilities,
                                 landmarks_in_crop(held.face))
        st.session_state["held_shown"] = (held, explained)
    explained = st.session_state["held_shown"][1]
    top = EMOTIONS[explained.class_index]
    st.subheader("You held it")
    still, heat = st.columns(2)  # the still keeps the video's shape; only the face is square
    still.image(cv2.cvtColor(held.picture(live.target), cv2.COLOR_BGR2RGB), width=320,
                caption=f"your best frame: {target} at {held.probabilities[live.target]:.0%}",
                alt=f"Your best frame while you held {target}, with your face outlined.")
    heat.image(overlay(cv2.resize(held.face.crop, (192, 192), interpolation=cv2.INTER_LANCZOS4), explained.heatmap),
               width=192, caption=f"where the model looked for {top} (outlined)",
               alt=f"Your face under a heatmap: dimmed except where the model looked for {top}, which is outlined. "
               f"{explained.words}")
    st.caption(f"{explained.words} The model reads expressions in pixels; it can't know how anyone feels.".strip())
    st.button("Try again", on_click=live.try_again)


try:
    read_metadata(registry.active_model_path())
    rtc = rtc_configuration()
except ArtifactError as exc:
    model_problem(exc)
    st.stop()
except IceServersError as exc:
    st.error(f"Live video is not set up right: {plain(exc)}")
    st.stop()

target = st.selectbox("Emotion to practise", EMOTIONS, index=EMOTIONS.index("happy"), key="live_target")
goal = st.toggle("Goal: hold it for about two seconds", key="live_goal",
                 help="Hold the emotion above a level you choose; the best frame is kept with where the model looked.")
# shown only with the goal on: a disabled slider's greyed label fails WCAG's contrast
level = st.slider("Level to hold it above", 30, 95, 60, 5, format="%d%%", key="live_level") if goal else None
try:
    live = live_mirror(active_predictor())
except ArtifactError as exc:
    model_problem(exc)
    st.stop()
live.choose(target, level / 100 if level else None)
live.calm = current().reduced_motion

fit_video_buttons()  # its buttons are in its frame, out of the page's touch styles' reach
context = webrtc_streamer(key="live-mirror", mode=WebRtcMode.SENDRECV, rtc_configuration=rtc,
                          media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
                          video_frame_callback=in_background(live.video), on_video_ended=live.stop,
                          translations=TRANSLATIONS, media_toggle_controls=False,
                          video_html_attrs={"autoPlay": True, "muted": True, "controls": False,
                                            # the video, its meter and Stop on one laptop screen: --page-room
                                            # is the page's height below the frame (ui/screen.py)
                                            "style": {"width": "100%", "maxHeight":
                                                      "max(240px, calc(var(--page-room, 100vh) - 4.5rem))"}})
if context.state.playing:
    meter_and_goal(live)
else:
    live.stop()
    st.write(NO_VIDEO)
    if not context.state.signalling and live.goal and live.goal.held is not None:
        held_it(live)
