"""A learner's progress: per emotion over time, their confusions next to the model's, and streaks."""
import pandas as pd
import streamlit as st

from fercore.labels import EMOTIONS
from fercore.milestones import FACES_READ, milestones, reached
from fercore.store import StoreError, trend_window, trends
from ui import charts
from ui.learner import sign_out, signed_in_learner
from ui.problems import problem_kept, show_problem
from ui.resources import store, store_trouble_said
from ui.text import plain

st.title("Your progress")


def your_classes(learner: str) -> None:
    """Which educators see this learner's answers, and a way to stop that."""
    memberships = store().memberships(learner)
    if not memberships:
        return
    st.subheader("Your classes")
    st.write("The educators of these classes see the answers you give from the day you joined, under your "
             "nickname. Leave a class and its educator sees none of your answers any more.")
    for membership in memberships:
        name, code = membership.classroom.name, membership.classroom.code
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.write(f"**{plain(name)}**, joined {membership.joined_at:%d %B %Y}")
        button.button(f"Leave {plain(name)}", key=f"leave-{code}", on_click=leave, args=(learner, code, name))


def leave(learner: str, code: str, name: str) -> None:
    try:
        store().leave_class(learner, code)
    except StoreError as exc:
        st.session_state["left"] = plain(exc)
        return
    st.session_state["left"] = f"You have left {plain(name)}: its educator no longer sees your answers."


def with_people(learner: str) -> None:
    """Guess the face's answers, beside the pictures': per emotion the partner meant."""
    tallies = store().with_people_by_emotion(learner)
    if not tallies:
        return
    st.subheader("With people")
    st.write("Faces of people in the room, from Guess the face: what your partner meant, what you saw, and the "
             "model's second opinion.")
    st.dataframe(pd.DataFrame([{"emotion your partner meant": emotion, "faces": tally.faces,
                                "you saw it": tally.matched, "the model read it": tally.model_matched}
                               for emotion, tally in tallies.items()]), hide_index=True)


def marks_of_practice(learner: str) -> None:
    """Quiet marks of practice done: a collection, never a ranking. Not shown in "no scores" mode."""
    if st.session_state.get("no_scores"):
        return
    marks = reached(milestones(store().quiz_faces_by_emotion(learner), store().with_people_faces_by_emotion(learner)))
    if not marks:
        return
    st.subheader("Marks of practice")
    st.write(" · ".join(f"{mark.count} {mark.emotion} faces read" if mark.kind == FACES_READ
                        else f"your first {mark.emotion} face with people" for mark in marks))


def forget_me(learner: str) -> None:
    """Delete everything kept under the nickname, after the key is typed once more."""
    with st.expander("Delete all my answers"):
        st.write("This deletes your nickname, every answer you gave and your display choices, for good.")
        with st.form("forget"):
            st.text_input("Type your key to confirm", type="password", key="forget_key")
            st.form_submit_button("Delete everything", on_click=forget, args=(learner,))
        show_problem("forget_problem")


def forget(learner: str) -> None:
    """A callback: it runs before the next run whatever that run draws, so a press is never lost."""
    with problem_kept("forget_problem"):
        deleted = store().forget_learner(learner, st.session_state.pop("forget_key", ""))
        sign_out()
        st.session_state["forgotten"] = f"Deleted {deleted} answer(s) and the nickname {plain(learner)}."


if "forgotten" in st.session_state:
    st.success(st.session_state.pop("forgotten"))
if "left" in st.session_state:
    st.info(st.session_state.pop("left"))
learner = signed_in_learner()
if learner is None:
    st.info("Type the nickname and key you use in the quiz to see your progress.")
    st.stop()
with store_trouble_said():  # the page reads the store all the way down
    answers = store().answers(learner)
    if not answers:
        st.info(f"No quiz answers yet for {plain(learner)}. Try a few faces in the quiz first.")
        with_people(learner)
        marks_of_practice(learner)
        your_classes(learner)
        forget_me(learner)
        st.stop()

    duel = store().you_vs_model(learner)
    cols = st.columns(4)
    cols[0].metric("Faces answered", len(answers))
    cols[1].metric("Matched the label", f"{sum(a.correct for a in answers) / len(answers):.0%}")
    cols[2].metric("Current run", store().streak(learner), help="Answers in a row that matched the label")
    cols[3].metric("The model on the same faces", f"{(duel.both_right + duel.only_model) / duel.faces:.0%}")
    st.caption("People agree with FER2013's labels only about 65% of the time, so no one matches them always.")

    window = trend_window(len(answers))
    lines = trends(answers, window)
    asked = [emotion for emotion in EMOTIONS if emotion in lines]
    shown = st.multiselect("Emotions in the chart", asked, default=asked, help="Pick a few to compare them.")
    st.plotly_chart(charts.progress_trends({k: v for k, v in lines.items() if k in shown or k == "all emotions"},
                                           window))

    yours, models = store().confusion(learner)
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion_heatmap(yours.tolist(), "How you read each emotion"))
    right.plotly_chart(charts.confusion_heatmap(models.tolist(), "How the model read the same faces"))

    st.subheader("You and the model on the same faces")
    st.write(f"Both matched the label on **{duel.both_right}** faces, only you on **{duel.only_you}**, "
             f"only the model on **{duel.only_model}**, neither on **{duel.both_wrong}**.")

    st.subheader("Sittings, newest first")
    st.dataframe(pd.DataFrame([{"started": p.label, "faces": p.overall.answered, "matched": f"{p.overall.accuracy:.0%}",
                                "model": f"{p.overall.model_accuracy:.0%}", "class session": p.session or ""}
                               for p in reversed(store().progress(learner, by="sitting"))]), hide_index=True)
    with_people(learner)
    marks_of_practice(learner)
    your_classes(learner)
    forget_me(learner)
