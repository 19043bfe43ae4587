"""Classes through the pages, as an educator and learners use them (AppTest, on tiny generated data)."""
from conftest import sign_in
from streamlit.testing.v1 import AppTest
from test_quiz_page import _choice_buttons, quiz_env  # noqa: F401 (a fixture)

from fercore.labels import EMOTIONS
from fercore.store import Answer, Store


def button(app, label):
    return next(b for b in app.button if b.label == label)


def open_class(code, token):
    app = AppTest.from_file("../pages/classes.py", default_timeout=60).run()
    app.text_input(key="open_class_code").input(code)
    app.text_input(key="open_class_token").input(token)
    return app.run()


def quiz(nickname, code, key=""):
    app = sign_in(AppTest.from_file("../pages/quiz.py", default_timeout=120).run(), nickname, key)
    app.text_input(key="class_code").input(code)
    return app.run()


def test_an_educator_creates_a_class_and_a_learner_chooses_to_join_it(quiz_env):
    app = AppTest.from_file("../pages/classes.py", default_timeout=60).run()
    app.text_input(key="class_name").input("Blue group")
    button(app, "Create class").click()
    app.run()
    assert not app.exception
    code, token = app.session_state["open_class_code"], app.session_state["open_class_token"]
    assert code in app.success[0].value and token in app.warning[0].value
    assert app.code[0].value.endswith(f"/quiz?code={code}")
    assert any("No learners yet" in i.value for i in app.info)

    learner = quiz("Zoe", code.lower())
    assert not learner.exception
    assert any("its educator sees the answers you give from now on" in i.value for i in learner.info)
    assert Store(quiz_env).memberships("Zoe") == []  # not before the learner chooses
    button(learner, "Join Blue group").click()
    learner.run()
    assert [m.classroom.code for m in Store(quiz_env).memberships("Zoe")] == [code]
    assert any("You are in the class Blue group" in c.value for c in learner.caption)
    _choice_buttons(learner)[0].click()  # practice on their own, seen by the class's educator
    learner.run()

    educator = open_class(code, token)
    assert not educator.exception
    assert [e.label for e in educator.expander if e.label == "Zoe"] == ["Zoe"]
    assert any("**1** face(s), 0 in class sessions and 1 on their own" in m.value for m in educator.markdown)


def test_a_next_step_set_by_the_educator_starts_with_one_press_and_keeps_to_its_emotions(quiz_env):
    store = Store(quiz_env)
    classroom, token = store.create_class("Blue group")
    _, key = store.register_learner("Zoe")
    store.join_class("Zoe", classroom.code)
    educator = open_class(classroom.code, token)
    form = "focus-"  # the whole class's next step
    educator.multiselect(key=f"{form}-emotions").set_value(["fear", "sad"])
    educator.select_slider(key=f"{form}-level").set_value(2)
    educator.text_area(key=f"{form}-note").input("Look at the eyebrows.")
    button(educator, "Set this next step").click()
    educator.run()
    assert not educator.exception and store.suggested_focus("Zoe").emotions == ("fear", "sad")

    learner = quiz("Zoe", "", key)
    said = [m.value for m in learner.markdown if "Your educator suggests" in m.value]
    assert said == ["Your educator suggests practising fear and sad at level 2. Look at the eyebrows\\."]
    button(learner, "Start this practice").click()
    learner.run()
    assert any("Practising what your educator suggested" in c.value for c in learner.caption)
    for _ in range(3):  # the adaptive practice stays inside the focus
        choices = _choice_buttons(learner)
        assert {c.label.lower() for c in choices} == {"fear", "sad"}
        choices[0].click()
        learner.run()
        button(learner, "Next face").click()
        learner.run()
    assert {EMOTIONS[a.true_label] for a in store.answers("Zoe")} <= {"fear", "sad"}


def test_a_learner_leaves_a_class_on_progress_and_the_educator_no_longer_sees_them(quiz_env):
    store = Store(quiz_env)
    classroom, token = store.create_class("Blue group")
    _, key = store.register_learner("Zoe")
    store.join_class("Zoe", classroom.code)
    store.record("Zoe", Answer("PublicTest_1", 3, 3, 3, 1))
    progress = sign_in(AppTest.from_file("../pages/progress.py", default_timeout=60).run(), "Zoe", key)
    assert [s.value for s in progress.subheader if s.value == "Your classes"] == ["Your classes"]
    button(progress, "Leave Blue group").click()
    progress.run()
    assert not progress.exception
    assert any("no longer sees your answers" in i.value for i in progress.info)
    assert store.class_view(classroom.code, token).members == []
    assert not [e for e in open_class(classroom.code, token).expander if e.label == "Zoe"]


def test_a_wrong_token_opens_nothing_of_the_class(quiz_env):
    store = Store(quiz_env)
    classroom, _ = store.create_class("Blue group")
    store.register_learner("Zoe")
    store.join_class("Zoe", classroom.code)
    app = open_class(classroom.code, "NOT-THE-TOKEN")
    assert not app.exception and "does not open class" in app.warning[0].value
    assert not app.expander and not app.get("plotly_chart")
