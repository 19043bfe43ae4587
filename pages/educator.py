"""Educators: create a class session with a join code, then follow the group's answers live."""
import cv2
import streamlit as st

from fercore.errors import FercoreError
from fercore.labels import EMOTIONS
from fercore.quiz import LEVELS
from fercore.store import SESSION_NAME_MAX
from ui import charts
from ui.dataset_panel import dataset_panel, dataset_problem
from ui.join_codes import quiz_link, show_new_code
from ui.pictures import square_pictures
from ui.problems import problem_kept, show_problem
from ui.resources import deck_quiz_pool, quiz_pool, store
from ui.text import plain

st.title("Class sessions")
st.caption("Learners join with the code; only someone holding the educator token can see the results.")


def create_form() -> None:
    with st.form("create"):
        st.text_input("Session name", placeholder="e.g. Tuesday group", max_chars=SESSION_NAME_MAX, key="new_name")
        st.multiselect("Emotions to practise", EMOTIONS, default=list(EMOTIONS), key="new_emotions")
        st.number_input("Faces per learner", 1, 200, 10, key="new_questions")
        st.select_slider("Level", LEVELS, value=2, key="new_level")
        st.text_input("Practice deck code (optional)", max_chars=12, key="new_deck",
                      help="To run the session on a practice deck of your own photos instead of FER2013's faces.")
        st.form_submit_button("Create session", type="primary", on_click=create_session)
    show_problem("create_problem")
    created = st.session_state.get("created")
    if created:
        code, name, token = created
        show_new_code(f"Session **{plain(name)}** created.", code, token, "to see this session's results",
                      "educator")


def create_session() -> None:
    """A callback: it runs before the next run whatever that run draws, so a press is never lost."""
    state = st.session_state
    with problem_kept("create_problem"):
        session, token = store().create_session(state.new_name, state.new_emotions, state.new_questions,
                                                state.new_level, deck=state.new_deck.strip() or None)
        state.update(view_code=session.code, view_token=token, created=(session.code, session.name, token))


@st.fragment(run_every=3.0)
def live_results(code: str, token: str) -> None:
    try:
        report = store().session_report(code, token)
    except FercoreError as exc:
        st.warning(plain(exc))
        return
    session = report.session
    st.subheader(f"{plain(session.name)} ({session.code}): {len(report.learners)} learner(s)")
    if session.deck_deleted:
        deck_deleted_notice(session, bool(report.learners))
        if not report.learners:
            return
    elif session.deck:
        st.caption(f"On the practice deck {session.deck}, not FER2013's faces.")
    if not report.learners:
        st.info(f"No answers yet. Learners open the quiz and type the code {session.code}, or open "
                f"{quiz_link(session.code, 'educator')}")
        return
    left, right = st.columns(2)
    left.plotly_chart(charts.tally_bars(report.learners, "By learner"), key="by-learner")
    right.plotly_chart(charts.tally_bars(report.emotions, "By emotion"), key="by-emotion")
    st.plotly_chart(charts.confusion_heatmap(report.confusion.tolist(), "How the group read each emotion"),
                    key="class-confusion")
    most_missed(report)
    st.download_button("Download all answers (CSV)", store().export_csv(code, token),
                       file_name=f"session-{session.code}.csv", mime="text/csv")


def deck_deleted_notice(session, answered: bool) -> None:
    """The deck may be someone else's: its owner can delete it, and its photos, at any time."""
    kept = ("The answers given in it are kept: the counts below, by learner and by emotion, stay as they were."
            if answered else "No answers were given in it before that.")
    st.info(f"This session ran on the practice deck {session.deck}. Its owner deleted the deck and its photos, so "
            f"its faces can no longer be shown here and learners can no longer answer in this session. {kept}")


def most_missed(report) -> None:
    if not report.most_missed:
        return
    st.write("**Faces most often missed**")
    try:
        session = report.session
        pool = deck_quiz_pool(store().open_deck(session.deck)) if session.deck else quiz_pool()
    except FercoreError:
        pool = None
    cols = square_pictures("most-missed").columns(min(len(report.most_missed), 5))
    for col, face in zip(cols, report.most_missed[:5]):
        caption = (f"labelled {EMOTIONS[face.true_label]}, missed {face.missed} of {face.shown}, "
                   f"often read as {EMOTIONS[face.common_guess]}")
        if pool is not None and face.face_id in pool.index:
            col.image(cv2.resize(pool.picture(face.face_id), (144, 144), interpolation=cv2.INTER_LANCZOS4),
                      caption=caption, alt=f"A face the class often missed: {caption}.")
        else:
            col.caption(f"{face.face_id}: {caption}")


def delete_session(code: str, token: str) -> None:
    with st.expander("Delete this session"):
        st.write("This deletes the session and every answer given in it, for good. Download the CSV first "
                 "if you want to keep the results.")
        st.button("Delete the session and its answers", on_click=delete, args=(code, token))
        show_problem("delete_problem")


def delete(code: str, token: str) -> None:
    state = st.session_state
    with problem_kept("delete_problem"):
        deleted = store().delete_session(code, token)
        state.pop("created", None)
        state.update(view_code="", view_token="", deleted=f"Session {code.upper()} and its {deleted} answer(s) "
                     "are deleted.")


missing_data = dataset_problem()
if missing_data:  # sessions can be set up, but learners need the faces on this server
    dataset_panel(missing_data, "Learners in a session practise on faces from FER2013")
create_tab, view_tab = st.tabs(["Create a session", "Follow a session"])
with create_tab:
    create_form()
with view_tab:
    if "deleted" in st.session_state:
        st.success(st.session_state.pop("deleted"))
    code = st.text_input("Join code", value=st.session_state.get("view_code", ""))
    token = st.text_input("Educator token", value=st.session_state.get("view_token", ""), type="password")
    if code and token:
        live_results(code, token)
        delete_session(code, token)
