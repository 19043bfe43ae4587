"""With someone: reading the face of a person in the room, with the model as a second opinion. Two games on one
device held between a learner and a partner: Guess the face (the partner makes a face, the learner says what
they see) and Bring it out (the learner brings an emotion out in the partner). The camera is read in this
browser (ui/camera_reader), as on the Live mirror."""
import secrets
import uuid

import cv2
import streamlit as st

from fercore.explain import explain_face, landmarks_in_crop, overlay
from fercore.images import ImageError
from fercore.labels import EMOTIONS
from fercore.mirror import held_from_still
from fercore.store import PeopleAnswer, StoreError
from ui.camera_reader.component import camera_reader, files_or_stop
from ui.display import current
from ui.learner import signed_in_learner
from ui.resources import active_predictor, store, store_trouble_said
from ui.text import plain

PRIVACY = ("The video stays on this device: faces are found and read in this browser. Nothing of your partner "
           "is kept: when you choose, the picture on the screen at that moment comes to this app's server to "
           "show where the model looked, and is gone when you close the tab. Your answer is kept under your "
           "nickname, with what your partner meant and what the model read.")
NO_VIDEO = "Guess the face needs a camera; the quiz and the snapshot mirror on Your photo work without one."
WORDS = {"refused": f"The camera was refused. {NO_VIDEO}", "missing": f"No camera could be opened. {NO_VIDEO}",
         "reader": f"This browser can't run the camera's reader (it needs a browser from 2023 or later). {NO_VIDEO}"}
BRING_LEVEL = 0.5  # "there it is": the model reads the emotion at half or more for about two seconds

st.title("Practise with someone")
st.caption(PRIVACY)


def new_round() -> None:
    st.session_state["guess"] = {"question": uuid.uuid4().hex, "stage": "choose"}


def guess_the_face(learner: str, files: dict[str, str]) -> None:
    game = st.session_state.setdefault("guess", {"question": uuid.uuid4().hex, "stage": "choose"})
    # the partner's part in a container always drawn: the camera below keeps its place in the page, and so
    # its video, from step to step
    partners_part = st.container()
    if game["stage"] == "choose":
        with partners_part:
            partner_chooses(game)
    question = game["question"] if game["stage"] == "guess" else ""
    sent = camera_reader(files, "happy", None, current().reduced_motion, 0, WORDS, key="partner_camera",
                         choices=EMOTIONS if question else (), question=question)["guessed"]
    sent = sent or game.get("unsaved")  # a choice the store could not take yet is not lost
    if sent and sent.get("round") == game["question"] and game["stage"] == "guess":
        guessed(learner, game, sent)
    if game["stage"] == "reveal":
        reveal(game)


def partner_chooses(game: dict) -> None:
    st.subheader("Partner: choose a face to make")
    if "suggested" not in game:
        st.write("Learner, please look away for a moment. Partner, start the camera below, then press the button "
                 "to see a suggestion that only you should read.")
        st.button("I'm the partner: show me a suggestion", on_click=game.update,
                  kwargs={"suggested": secrets.choice(EMOTIONS)})
        return
    intended = st.radio("The emotion to show (a suggestion; choose another if you like)", EMOTIONS,
                        index=EMOTIONS.index(game["suggested"]), horizontal=True, key=f"intended-{game['question']}")
    st.button("Ready: hide it, and the learner may look", type="primary", on_click=game.update,
              kwargs={"intended": intended, "stage": "guess"})


def guessed(learner: str, game: dict, sent: dict) -> None:
    """The learner's choice with the partner's face at that moment: the model's reading of it, and the answer
    stored once under the learner."""
    choice = sent.get("choice")
    if choice not in EMOTIONS:
        return
    held = None
    if sent.get("probabilities") is not None:
        try:
            held = held_from_still(sent.get("still"), sent["probabilities"])
        except ImageError:
            held = None  # no face in that frame: the model gives no second opinion this round
    model = int(held.probabilities.argmax()) if held else None
    answer = PeopleAnswer(question_id=game["question"], game="guess", intended=EMOTIONS.index(game["intended"]),
                          choice=EMOTIONS.index(choice), model_reading=model,
                          model_probability=float(held.probabilities[model]) if held else None)
    try:
        store().record_with_people(learner, answer)
    except StoreError as exc:
        game["unsaved"] = sent
        st.error(f"Your answer is not saved yet: {plain(exc)}")
        st.button("Save it again")  # a run, which tries again
        return
    game.pop("unsaved", None)
    game.update(stage="reveal", choice=choice, held=held)
    st.rerun()  # the reader was drawn with the question's choices above: drawn again without them


def reveal(game: dict) -> None:
    intended, choice, held = game["intended"], game["choice"], game["held"]
    st.subheader("What you each saw")
    meant, chose, model = st.columns(3)
    meant.metric("Your partner meant", intended)
    chose.metric("You chose", choice)
    if held is None:
        model.metric("The model's second opinion", "no face")
    else:
        top = int(held.probabilities.argmax())
        model.metric("The model's second opinion", EMOTIONS[top], f"{held.probabilities[top]:.0%} sure",
                     delta_color="off")
    st.write(agreement(intended, choice, EMOTIONS[int(held.probabilities.argmax())] if held else None))
    if held is not None:
        second_opinion(held)
    st.button("Next round", type="primary", on_click=new_round)


def agreement(intended: str, choice: str, model: str | None) -> str:
    said = ("You read what your partner meant." if choice == intended else
            f"Your partner meant {intended} and you saw {choice}: people show emotions in their own way, so "
            "talk about what each of you noticed.")
    if model is None:
        return said + " The model found no face at that moment, so it gives no opinion this time."
    if model != intended:
        said += f" The model read {model}: it reads pixels, not people, and it can be wrong."
    return said


def second_opinion(held) -> None:
    if st.session_state.get("partner_explained", (None,))[0] is not held:  # the map once per round
        explained = explain_face(active_predictor().model, held.face.crop, held.probabilities,
                                 landmarks_in_crop(held.face))
        st.session_state["partner_explained"] = (held, explained)
    explained = st.session_state["partner_explained"][1]
    top = EMOTIONS[explained.class_index]
    st.image(overlay(cv2.resize(held.face.crop, (192, 192), interpolation=cv2.INTER_LANCZOS4), explained.heatmap),
             width=192, caption=f"where the model looked for {top} (outlined)",
             alt=f"Your partner's face as you chose, under a heatmap: dimmed except where the model looked for "
             f"{top}, which is outlined. {explained.words}")
    st.caption(f"{explained.words} The model reads expressions in pixels; it can't know how anyone feels.".strip())


def bring_it_out(files: dict[str, str]) -> None:
    st.write("Choose an emotion to bring out in your partner: a joke, a surprise, a story. The meter shows how "
             "strongly the model reads it on their face; take all the time you like.")
    target = st.selectbox("Emotion to bring out", EMOTIONS, index=EMOTIONS.index("happy"), key="bring_target")
    rounds = st.session_state.setdefault("bring_round", 0)
    held = camera_reader(files, target, BRING_LEVEL, current().reduced_motion, rounds, WORDS, key="bring_camera",
                         held_words="there it is")["held"]
    if held and held.get("round") == rounds:
        try:
            st.session_state["brought"] = (held_from_still(held.get("still"), held.get("probabilities")),
                                           EMOTIONS.index(target))
        except ImageError as exc:
            st.warning(plain(str(exc)))
    if "brought" in st.session_state:
        still, emotion = st.session_state["brought"]
        st.subheader("There it is")
        st.image(cv2.cvtColor(still.picture(emotion, BRING_LEVEL), cv2.COLOR_BGR2RGB), width=320,
                 caption=f"{EMOTIONS[emotion]}, as the model read it", alt=f"Your partner's face showing "
                 f"{EMOTIONS[emotion]}, outlined, with the meter.")
        st.button("Again", on_click=again)


def again() -> None:
    st.session_state.pop("brought", None)
    st.session_state["bring_round"] = st.session_state.get("bring_round", 0) + 1


learner = signed_in_learner()
if learner is None:
    st.stop()
files = files_or_stop()
# a radio, not a segmented control: Streamlit draws the latter's chosen option below WCAG's contrast
game = st.radio("Game", ["Guess the face", "Bring it out"], horizontal=True, key="partner_game")
if game == "Bring it out":
    bring_it_out(files)
else:
    with store_trouble_said():
        guess_the_face(learner, files)
