"""Milestones: quiet marks of one learner's practice per emotion, reached at 10, 25 and 50 faces read and at
the first face read with people."""
from fercore.labels import EMOTIONS, INDEX
from fercore.milestones import FACES_READ, FIRST_WITH_PEOPLE, Milestone, milestones, reached
from fercore.store import Answer, PeopleAnswer

HAPPY, SAD = INDEX["happy"], INDEX["sad"]


def quiz(true_label, n) -> list[Answer]:
    return [Answer(f"PublicTest_{i}", true_label, SAD, true_label, 1) for i in range(n)]  # right or wrong alike


def with_people(intended, n) -> list[PeopleAnswer]:
    return [PeopleAnswer(f"q-{intended}-{i}", "guess", intended, HAPPY, None, None) for i in range(n)]


def test_no_answers_reach_no_mark_and_every_mark_is_listed():
    marks = milestones([], [])
    assert reached(marks) == []
    assert len(marks) == 4 * len(EMOTIONS)
    assert marks[:4] == [Milestone("angry", FACES_READ, 10, False), Milestone("angry", FACES_READ, 25, False),
                         Milestone("angry", FACES_READ, 50, False), Milestone("angry", FIRST_WITH_PEOPLE, 1, False)]


def test_faces_read_reach_each_mark_exactly_at_its_count_with_answers_with_people_counted():
    assert reached(milestones(quiz(HAPPY, 9), [])) == []
    assert reached(milestones(quiz(HAPPY, 10), [])) == [Milestone("happy", FACES_READ, 10, True)]
    assert [m.count for m in reached(milestones(quiz(HAPPY, 24), with_people(SAD, 0)))] == [10]
    assert [m.count for m in reached(milestones(quiz(HAPPY, 24), with_people(HAPPY, 1)))] == [10, 25, 1]
    assert [m.count for m in reached(milestones(quiz(HAPPY, 49), []))] == [10, 25]
    assert [m.count for m in reached(milestones(quiz(HAPPY, 50), []))] == [10, 25, 50]


def test_the_first_with_people_is_reached_per_intended_emotion():
    assert reached(milestones(quiz(SAD, 3), with_people(HAPPY, 1))) == [
        Milestone("happy", FIRST_WITH_PEOPLE, 1, True)]


def test_the_quiz_hears_of_a_mark_only_on_the_answer_that_reaches_it():
    from fercore.milestones import just_reached
    from fercore.store.records import Answer

    happy = [Answer(f"f{n}", 3, 3, 3, 1) for n in range(10)]
    assert just_reached(happy[:9], [], "happy") is None
    mark = just_reached(happy, [], "happy")
    assert (mark.emotion, mark.count) == ("happy", 10)
    assert just_reached(happy + happy[:1], [], "happy") is None
