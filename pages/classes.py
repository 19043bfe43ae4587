"""Educators: a class that lasts from week to week. Learners join it once; the educator follows each one's
trend and confusions across the class's sessions and their own practice, sets a next step, runs sessions
in the class, and downloads a one-page report per learner."""
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from fercore.coaching import LATELY, and_list, focus_words, not_practised_lately, report_html, summarize
from fercore.errors import FercoreError
from fercore.labels import EMOTIONS
from fercore.quiz import LEVELS
from fercore.store import CLASS_NAME_MAX, NOTE_MAX, SESSION_NAME_MAX, confusion_matrix, trend_window, trends
from ui import charts
from ui.join_codes import quiz_link, show_new_code
from ui.problems import problem_kept, show_problem
from ui.resources import store, store_trouble_said
from ui.text import plain

st.title("Classes")
st.caption("A class lasts from week to week. Learners join it once with its code, and only someone holding "
           "the educator token sees their answers, from the day they joined until they leave. Nothing here is "
           "shown to other learners.")


def create_form() -> None:
    with st.form("create-class"):
        st.text_input("Class name", placeholder="e.g. Blue group", max_chars=CLASS_NAME_MAX, key="class_name")
        st.form_submit_button("Create class", type="primary", on_click=create_class)
    show_problem("class_problem")
    created = st.session_state.get("class_created")
    if created:
        code, name, token = created
        show_new_code(f"Class **{plain(name)}** created.", code, token, "to open the class", "classes")


def create_class() -> None:
    """A callback: it runs before the next run whatever that run draws, so a press is never lost."""
    state = st.session_state
    with problem_kept("class_problem"):
        classroom, token = store().create_class(state.class_name)
        state.update(open_class_code=classroom.code, open_class_token=token,
                     class_created=(classroom.code, classroom.name, token))


def class_page(code: str, token: str) -> None:
    try:
        view = store().class_view(code, token)
    except FercoreError as exc:
        st.warning(plain(exc))
        return
    classroom = view.classroom
    st.subheader(f"{plain(classroom.name)} ({classroom.code}): {len(view.members)} learner(s)")
    st.write(f"Learners join by typing **{classroom.code}** in the quiz, or by opening this link:")
    st.code(quiz_link(classroom.code, "classes"), language=None)
    st.button("Show the latest answers")  # any press redraws the page with what is stored now
    next_step_form(view, None)
    session_form(view)
    if not view.members:
        st.info("No learners yet. A learner who joins shows here with their practice from that day on.")
        return
    quiet = not_practised_lately(view.members, datetime.now(timezone.utc))
    if quiet:
        st.write(f"**Not practised in the last {LATELY.days} days:** {plain(and_list(quiet))}")
    everyone = [a for m in view.members for a in m.answers]
    st.plotly_chart(charts.confusion_heatmap(confusion_matrix(everyone).tolist(), "How the class read each emotion"),
                    key="class-confusion")
    st.write("**Each learner** (in name order)")
    for member in view.members:
        with st.expander(plain(member.name)):
            learner_part(view, member)


def learner_part(view, member) -> None:
    summary = summarize(member.name, member.answers)
    if not member.answers:
        st.write(f"Joined {member.joined_at:%d %B %Y}; no answers since.")
    else:
        st.write(f"Joined {member.joined_at:%d %B %Y}. Since then **{summary.answered}** face(s), "
                 f"{summary.in_sessions} in class sessions and {summary.answered - summary.in_sessions} on their "
                 f"own; last practised {summary.last:%d %B %Y}.")
        window = trend_window(len(member.answers))
        st.plotly_chart(charts.progress_trends(trends(member.answers, window), window, whose=f"{member.name}'s"),
                        key=f"trend-{member.name}")
        st.dataframe(pd.DataFrame([{"emotion": t.emotion, "faces": t.answered,
                                    "earlier: matched": "" if t.earlier is None else f"{t.earlier:.0%}",
                                    "recent: matched": f"{t.recent:.0%}", "trend": t.direction}
                                   for t in summary.emotions]), hide_index=True, key=f"table-{member.name}")
        if summary.confusions:
            st.write("Read as another emotion most often: " + "; ".join(
                f"{c.emotion} as {c.read_as} ({c.times})" for c in summary.confusions) + ".")
    if member.with_people:
        st.write("With people (Guess the face), by the emotion the partner meant:")
        st.dataframe(pd.DataFrame([{"emotion": emotion, "faces": t.faces, "seen as meant": t.matched,
                                    "the model read it": t.model_matched} for emotion, t in member.with_people.items()]),
                     hide_index=True, key=f"people-{member.name}")
    next_step_form(view, member)
    report(view, member, summary)


def next_step_form(view, member) -> None:
    """The next step for one learner (member) or the whole class (None)."""
    who = member.name if member else None
    focus = member.focus if member else view.focus
    key = f"focus-{who or ''}"
    with st.form(key):
        st.write(f"**Next step for {plain(who)}**" if who else "**Next step for the whole class**")
        if focus:
            st.caption(f"Now: {plain(focus_words(focus))}. {plain(focus.note)}")
        st.multiselect("Emotions to practise", EMOTIONS, default=list(focus.emotions) if focus else [],
                       key=f"{key}-emotions")
        st.select_slider("Level", LEVELS, value=focus.level if focus else 1, key=f"{key}-level")
        st.text_area("Note for the learner (optional)", value=focus.note if focus else "", max_chars=NOTE_MAX,
                     key=f"{key}-note")
        st.text_input("Practice deck code (optional)", value=focus.deck[0] if focus and focus.deck else "",
                      max_chars=12, key=f"{key}-deck", help="To practise on a deck of familiar faces.")
        st.form_submit_button("Set this next step", on_click=set_next_step, args=(view, who, key))
    if focus:
        st.button("Clear this next step", key=f"{key}-clear", on_click=clear_next_step, args=(view, who, key))
    show_problem(f"{key}-problem")


def set_next_step(view, who, key) -> None:
    state = st.session_state
    with problem_kept(f"{key}-problem"):
        store().set_focus(view.classroom.code, state.open_class_token, state[f"{key}-emotions"],
                          state[f"{key}-level"], state[f"{key}-note"], learner=who,
                          deck=state[f"{key}-deck"].strip() or None)


def clear_next_step(view, who, key) -> None:
    with problem_kept(f"{key}-problem"):
        store().clear_focus(view.classroom.code, st.session_state.open_class_token, learner=who)


def session_form(view) -> None:
    with st.expander("Run a class session in this class"):
        with st.form("class-session"):
            st.text_input("Session name", placeholder="e.g. Tuesday", max_chars=SESSION_NAME_MAX,
                          key="class_session_name")
            st.multiselect("Emotions to practise", EMOTIONS, default=list(EMOTIONS), key="class_session_emotions")
            st.number_input("Faces per learner", 1, 200, 10, key="class_session_questions")
            st.select_slider("Level", LEVELS, value=2, key="class_session_level")
            st.form_submit_button("Create session", on_click=create_session, args=(view,))
        show_problem("class_session_problem")
        started = st.session_state.get("class_session_created")
        if started:
            st.success(f"Session **{plain(started[1])}** created with the code **{started[0]}**. Follow it live "
                       "on the Class sessions page, with this class's educator token.")
        if view.sessions:
            st.caption("Sessions run in this class, newest first: " + "; ".join(
                f"{plain(s.name)} ({s.code}, {s.created_at:%d %B})" for s in view.sessions))


def create_session(view) -> None:
    state = st.session_state
    with problem_kept("class_session_problem"):
        session, _ = store().create_session(state.class_session_name, state.class_session_emotions,
                                            state.class_session_questions, state.class_session_level,
                                            class_code=view.classroom.code, class_token=state.open_class_token)
        state["class_session_created"] = (session.code, session.name)


def report(view, member, summary) -> None:
    note = st.text_area("Your note for the report (only in the file, not kept)", max_chars=NOTE_MAX,
                        key=f"report-note-{member.name}")
    page = report_html(summary, view.classroom.name, member.focus or view.focus, note, datetime.now(),
                       member.with_people)
    st.download_button(f"Download {plain(member.name)}'s report (prints on one page)", page,
                       file_name=f"report-{member.name}.html", mime="text/html", key=f"report-{member.name}")


create_tab, open_tab = st.tabs(["Create a class", "Open a class"])
with create_tab:
    create_form()
with open_tab:
    code = st.text_input("Class code", key="open_class_code")
    token = st.text_input("Educator token", key="open_class_token", type="password")
    if code and token:
        with store_trouble_said():
            class_page(code, token)
