"""Practise reading emotions on real faces, at your own pace, and compare with the model."""
import uuid

import cv2
import numpy as np
import streamlit as st

from fercore.coaching import focus_words
from fercore.errors import ArtifactError, DatasetError, FercoreError
from fercore.explain import explain_face, overlay
from fercore.labels import EMOTIONS
from fercore.milestones import just_reached
from fercore.quiz import ADAPT_WINDOW, DECK_FACE, LEVELS, QuizError, next_question, score, suggest_level
from fercore.store import StoreError, UnknownClassCode, UnknownDeckCode, UnknownSessionCode
from ui.dataset_panel import dataset_panel
from ui.display import read_aloud
from ui import charts
from ui.learner import signed_in_learner
from ui.pictures import inline, square_pictures
from ui.problems import problem_kept, show_problem
from ui.screen import QUIZ_STYLE
from ui.resources import active_predictor, deck_quiz_pool, model_problem, quiz_pool, store, store_trouble_said
from ui.text import plain, plain_error

LEVEL_NAMES = {1: "1: two choices, clear faces", 2: "2: three choices", 3: "3: five choices, subtler faces",
               4: "4: all seven emotions, any face"}
FACE_PIXELS = 288  # 6x the 48x48 original

# Set here, not as widget defaults: navigation.py keeps these when the learner visits another page.
for key, default in {"level": 1, "show_heatmap": True, "no_scores": False}.items():
    st.session_state.setdefault(key, default)
st.html(QUIZ_STYLE)
st.title("Emotion quiz")
st.caption("Look at the face for as long as you like, then choose the emotion you see. There is no timer.")


def enlarged(face: np.ndarray) -> np.ndarray:
    return cv2.resize(face, (FACE_PIXELS, FACE_PIXELS), interpolation=cv2.INTER_LANCZOS4)


def settings(class_session, deck):
    """Level, focus and display choices; an educator's session fixes level and emotions."""
    with st.expander("Settings", expanded=False):
        if deck:
            st.write(f"Practice deck **{plain(deck.name)}**: {deck.faces} face(s) from its owner's own photos.")
        if class_session:
            st.write(f"Class session **{plain(class_session.name)}**: level {class_session.level}, "
                     f"emotions {', '.join(class_session.emotions)}.")
            level, focus = class_session.level, list(class_session.emotions)
        else:
            level = st.select_slider("Level", LEVELS, format_func=LEVEL_NAMES.get, key="level")
            focus = st.multiselect("Practise only these emotions (empty: all)", EMOTIONS, key="focus")
        st.toggle("Show where the model looked (heatmap)", key="show_heatmap")
        st.toggle("No scores (just practice)", key="no_scores")
    return level, focus or None


def join_code(learner):
    """The class session and the practice deck the typed code opens: (session, deck), either may be None.
    A class's code, or a session run in a class the learner is not in, offers to join that class. A code
    that opens nothing (a deck its owner deleted meanwhile) is said, and the quiz waits."""
    if "class_code" not in st.session_state and "code" in st.query_params:  # opened by a class's join link
        st.session_state["class_code"] = st.query_params["code"][:12]
    code = st.text_input("Class or deck code (optional)", key="class_code", max_chars=12,
                         help="If your educator or your family gave you a code, type it here.").strip()
    if not code:
        return None, None
    try:
        session = store().join_session(code)
    except UnknownSessionCode:
        session = None
    if session:
        if session.class_code:
            class_membership(learner, store().classroom(session.class_code))
        if session.deck_deleted:
            st.warning(f"The session {plain(session.name)} ran on a practice deck that its owner has since deleted, "
                       "with its photos: it has no faces left to show. Ask your educator for another code, or clear "
                       "the code to practise on FER2013's faces.")
            st.stop()
        return session, store().open_deck(session.deck) if session.deck else None
    try:
        class_membership(learner, store().classroom(code))
        return None, None
    except UnknownClassCode:
        pass
    try:
        return None, store().open_deck(code)
    except UnknownDeckCode:
        st.warning(f"There is no session, class or deck with the code {plain(code.upper())}: a deck may have "
                   "been deleted by its owner. Check the code with whoever gave it to you, or clear it to practise "
                   "on FER2013's faces.")
        st.stop()


def class_membership(learner, classroom):
    """Joining is the learner's choice: it lets the class's educator see their answers from then on."""
    show_problem("join_problem")
    if any(m.classroom.code == classroom.code for m in store().memberships(learner)):
        st.caption(f"You are in the class {plain(classroom.name)}: its educator sees your answers from the day you "
                   "joined. You can leave it on your Progress page.")
        return
    st.info(f"**{plain(classroom.name)}** is a class. If you join it, its educator sees the answers you give "
            "from now on, here and on your own, under your nickname; other learners see nothing.")
    st.button(f"Join {plain(classroom.name)}", key=f"join-{classroom.code}", on_click=join_classroom,
              args=(classroom.code,))


def join_classroom(code: str) -> None:
    state = st.session_state
    if not state.get("learner"):  # a press after signing out
        return
    with problem_kept("join_problem"):
        store().join_class(state["learner"], code)


def educator_suggestion(learner, class_session) -> None:
    """The next step an educator set, and one press to start it; the adaptive practice works inside it."""
    if class_session:
        return
    focus = store().suggested_focus(learner)
    if focus is None:
        return
    state = st.session_state
    started = {"focus": list(focus.emotions), "level": focus.level}
    if focus.deck:
        started["class_code"] = focus.deck[0]  # the code box opens the deck
    same_deck = not focus.deck or state.get("class_code", "").strip().upper() == focus.deck[0]
    if same_deck and state.get("level") == focus.level and sorted(state.get("focus") or []) == sorted(focus.emotions):
        st.caption(f"Practising what your educator suggested: {plain(focus_words(focus))}.")
        return
    with st.container(border=True):
        st.write(f"Your educator suggests practising {plain(focus_words(focus))}."
                 + (f" {plain(focus.note)}" if focus.note else ""))
        st.button("Start this practice", on_click=state.update, kwargs=started | {"question": None, "result": None})


def ask(pool, learner, level, focus, class_session, deck):
    state = st.session_state
    deck_code = deck.code if deck else None
    settings_now = (level, tuple(focus or ()), class_session.code if class_session else None, deck_code)
    if state.get("question") is None or state.get("question_settings") != settings_now:
        history = store().answers(learner, limit=ADAPT_WINDOW, deck=deck_code)
        state.update(question=next_question(pool, history, level, focus), asked=uuid.uuid4().hex[:12],
                     question_settings=settings_now, result=None, not_saved=None)
    question, asked, result = state["question"], state["asked"], state.get("result")
    if result is not None:
        readings(question, result.answer)
    # One screen at 1366x768: the face and its heatmap side by side, the words and "Next face" beside them.
    # Keys carry the question's id. A run cut short by a press leaves its elements on the page, and between
    # runs nothing marks them stale: a press on such a leftover must not count for the face shown now.
    pictures, words = st.container(key="quiz-layout").columns([3, 2], gap="large")
    face, heat = square_pictures("question", pictures).columns(2)
    where = f"the practice deck {deck.name}, in colour" if deck else "FER2013 in greyscale, enlarged"  # alt: no markup
    face.image(enlarged(shown(question)), width="stretch", alt=f"A face from {where}. Which emotion do you see?")
    if result is None:
        with pictures:
            choose(question, asked, class_session, deck_code)
        read_aloud("Which emotion do you see? " + ", ".join(question.choices) + ".")
        return
    if state.get("show_heatmap", True):
        with heat:
            show_heatmap(question)
    labelled = EMOTIONS[result.answer.true_label]
    pictures.info(f"**What {labelled} often looks like:** {result.cue}.")
    read_aloud(f"{result.message} What {labelled} often looks like: {result.cue}.")
    with words.container(key=f"reveal-{asked}"):
        st.write(("✓ " if result.answer.correct else "") + result.message)
        st.caption(f"The model was {question.model_confidence:.0%} sure. Your answer is saved.")
        st.button("Next face", type="primary", key=f"next-{asked}", on_click=next_face, args=(asked,))
        offer_next_level(store().answers(learner, limit=ADAPT_WINDOW, deck=deck_code), level, class_session)


def shown(question):
    """The face as the learner sees it: a deck's in colour, FER2013's in greyscale."""
    return question.image if question.picture is None else question.picture


def choose(question, asked, class_session, deck_code):
    st.write("**Which emotion do you see?**")
    not_saved = st.session_state.get("not_saved")
    if not_saved:
        st.warning(f"Your answer was not saved, so it is not shown yet. {not_saved} Choose again when you are ready.")
    session = class_session.code if class_session else None
    cols = st.container(key="choices").columns(len(question.choices))
    for col, choice in zip(cols, question.choices):
        col.button(choice.capitalize(), key=f"choice-{asked}-{choice}", width="stretch",
                   on_click=answer, args=(asked, choice, session, deck_code))


def answer(asked: str, choice: str, session: str | None, deck: str | None) -> None:
    """A choice pressed: saved, then revealed. A callback runs before the next run whatever that run
    draws, so a press made while the page redraws is not lost. A second press, or one on a button of an
    earlier face, changes nothing; the store keeps one answer per question id whatever the retries."""
    state = st.session_state
    if state.get("asked") != asked or state.get("result") is not None or not state.get("learner"):
        return
    question = state["question"]
    try:
        kept = store().record(state["learner"], score(question, choice).answer, session, question_id=asked,
                              deck=deck)
    except StoreError as exc:
        state["not_saved"] = plain(exc)
        return
    # The reveal shows what is stored: after a retry, the first press may be the one that was kept.
    emotion = EMOTIONS[kept.true_label]
    faces_read = (store().quiz_faces_by_emotion(state["learner"]).get(emotion, 0)
                  + store().with_people_faces_by_emotion(state["learner"]).get(emotion, 0))
    state.update(result=score(question, EMOTIONS[kept.guess]), not_saved=None,
                 mark_reached=just_reached(emotion, faces_read))


def next_face(asked: str) -> None:
    if st.session_state.get("asked") == asked:  # a second press must not skip the face after it
        st.session_state.update(question=None, result=None, mark_reached=None)


def readings(question, given):
    mark = "✓ Matches the label" if given.correct else "Different from the label"
    cols = st.container(key="readings").columns(3)
    cols[0].metric(label_heading(given), EMOTIONS[given.true_label])
    cols[1].metric("You chose", EMOTIONS[given.guess], help=mark)
    cols[2].metric("The model read", EMOTIONS[given.model_guess], help=f"{question.model_confidence:.0%} sure")


def label_heading(given) -> str:
    # A practice deck's labels were chosen by its owner, not taken from FER2013.
    return "The deck owner's label" if given.face_id.startswith(DECK_FACE) else "Dataset label"


def show_heatmap(question):
    try:
        model = active_predictor().model
    except FercoreError as exc:
        st.caption(plain_error(exc))
        return
    key = (question.face_id, id(model))  # reruns of the same reveal (any widget) reuse the explanation
    kept = st.session_state.get("explained")
    if kept is None or kept[0] != key:
        kept = (key, explain_face(model, question.image, question.model_probabilities))
        st.session_state["explained"] = kept
    explained = kept[1]
    emotion = EMOTIONS[explained.class_index]
    looked = f"Where the model looked for {emotion} (outlined). {explained.words}"
    # Inline, not a media file: the picture comes with its caption, and no later run can drop it before the
    # browser has fetched it (ui.pictures.inline)
    picture = inline(overlay(enlarged(shown(question)), explained.heatmap, 0.45))
    st.image(picture, width="stretch", caption=looked,
             alt=f"The same face under a heatmap: dimmed except where the model looked for {emotion}, which is "
             f"outlined. {explained.words}")


def offer_next_level(history, level, class_session):
    if class_session or st.session_state.get("no_scores"):
        return
    suggested = suggest_level(history, level)
    if suggested > level:
        st.button(f"You're doing well. Try level {suggested}?", on_click=st.session_state.update,
                  kwargs={"level": suggested, "question": None, "result": None})


def session_finished(learner, class_session, pool) -> bool:
    done = sum(a.session == class_session.code for a in store().answers(learner, deck=class_session.deck))
    if done >= class_session.questions and st.session_state.get("result") is None:
        session_result(learner, class_session, pool)
        return True
    st.caption(f"{plain(class_session.name)}: face {min(done + 1, class_session.questions)} of {class_session.questions}")
    return False


def session_result(learner, class_session, pool):
    """How this learner's session went, theirs alone (no ranking), and where to go next."""
    result = store().session_result(learner, class_session.code)
    st.success(f"You have answered all {class_session.questions} faces of {plain(class_session.name)}. Well done!")
    if not st.session_state.get("no_scores"):
        st.write(f"{result.overall.correct} of {result.overall.answered} of your answers matched the label. "
                 "People agree with these labels only about 65% of the time.")
        st.plotly_chart(charts.tally_bars(result.emotions, "Your answers in this session, per emotion"))
    hard = sorted({EMOTIONS[face.true_label] for face in result.hard_faces}, key=EMOTIONS.index)
    if result.hard_faces:
        hard_faces(result.hard_faces, pool)
    st.write("**What next?**")
    own, focused = st.columns(2)
    own.button("Practise on my own", on_click=leave_session, args=([],))
    if hard:
        focused.button(f"Practise {', '.join(hard)} on my own", on_click=leave_session, args=(hard,))


def hard_faces(faces, pool):
    st.write("**Faces you found hard**")
    faces = [face for face in faces if face.face_id in pool.index][:5]  # a deck's face may since have been removed
    cols = square_pictures("hard-faces").columns(max(len(faces), 1))
    for col, face in zip(cols, faces):
        caption = f"labelled {EMOTIONS[face.true_label]}, you chose {EMOTIONS[face.common_guess]}"
        col.image(cv2.resize(pool.picture(face.face_id), (144, 144), interpolation=cv2.INTER_LANCZOS4),
                  caption=caption, alt=f"A face you found hard: {caption}.")


def leave_session(focus):
    st.session_state.update(class_code="", focus=focus, question=None, result=None)


def scores(learner, class_session, deck):
    """The score line: this session's answers during a session, else all of the learner's (on the deck)."""
    if st.session_state.get("no_scores"):
        return
    deck_code = deck.code if deck else None
    answers = store().answers(learner, deck=deck_code)
    if class_session:
        answers = [a for a in answers if a.session == class_session.code]
    if answers:
        right = sum(a.correct for a in answers)
        where = " in this session" if class_session else " on this deck" if deck else " so far"
        st.caption(f"{right} of {len(answers)} matched the label{where} · "
                   f"current run: {store().streak(learner, deck_code)}")
    mark = st.session_state.get("mark_reached")
    if mark and st.session_state.get("result") is not None:  # quietly, once, on the reveal that reached it
        st.caption(f"A mark of practice: {mark.count} {mark.emotion} faces read. All your marks are on Progress.")


who, code_box = st.columns(2, vertical_alignment="bottom")  # one row: the reveal fits a laptop screen
learner = signed_in_learner(who)
if learner is None:
    st.info("Type a nickname to start. Your answers are kept under it, and only your key opens them.")
    st.stop()
class_session = deck = None
with code_box, store_trouble_said():
    class_session, deck = join_code(learner)
with store_trouble_said():
    educator_suggestion(learner, class_session)
level, focus = settings(class_session, deck)
try:
    pool = deck_quiz_pool(deck) if deck else quiz_pool()
except (UnknownDeckCode, QuizError) as exc:  # deleted since the code was read, or no faces yet
    st.warning(plain(exc))
    st.stop()
except ArtifactError as exc:
    model_problem(exc)
    st.stop()
except DatasetError as exc:  # no faces yet: how to get them, and a file drop that imports them
    dataset_panel(exc, "The quiz shows faces from FER2013")
    st.stop()
with store_trouble_said():
    if class_session and session_finished(learner, class_session, pool):
        st.stop()
    try:
        ask(pool, learner, level, focus, class_session, deck)
    except QuizError as exc:  # a deck without faces of the session's emotions
        st.warning(plain(exc))
        st.stop()
    scores(learner, class_session, deck)
