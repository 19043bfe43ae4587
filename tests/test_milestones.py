"""Milestones: quiet marks of one learner's practice per emotion, reached at 10, 25 and 50 faces read and at
the first face read with people."""
from fercore.labels import EMOTIONS
from fercore.milestones import FACES_READ, FIRST_WITH_PEOPLE, Milestone, just_reached, milestones, reached


def test_no_answers_reach_no_mark_and_every_mark_is_listed():
    marks = milestones({}, {})
    assert reached(marks) == []
    assert len(marks) == 4 * len(EMOTIONS)
    assert marks[:4] == [Milestone("angry", FACES_READ, 10, False), Milestone("angry", FACES_READ, 25, False),
                         Milestone("angry", FACES_READ, 50, False), Milestone("angry", FIRST_WITH_PEOPLE, 1, False)]


def test_faces_read_reach_each_mark_exactly_at_its_count_with_answers_with_people_counted():
    assert reached(milestones({"happy": 9}, {})) == []
    assert reached(milestones({"happy": 10}, {})) == [Milestone("happy", FACES_READ, 10, True)]
    assert [m.count for m in reached(milestones({"happy": 24}, {"sad": 0}))] == [10]
    assert [m.count for m in reached(milestones({"happy": 24}, {"happy": 1}))] == [10, 25, 1]
    assert [m.count for m in reached(milestones({"happy": 49}, {}))] == [10, 25]
    assert [m.count for m in reached(milestones({"happy": 50}, {}))] == [10, 25, 50]


def test_the_first_with_people_is_reached_per_intended_emotion():
    assert reached(milestones({"sad": 3}, {"happy": 1})) == [Milestone("happy", FIRST_WITH_PEOPLE, 1, True)]


def test_the_quiz_hears_of_a_mark_only_on_the_answer_that_reaches_it():
    assert just_reached("happy", 9) is None
    assert just_reached("happy", 10) == Milestone("happy", FACES_READ, 10, True)
    assert just_reached("happy", 11) is None
    assert [just_reached("sad", n).count for n in (25, 50)] == [25, 50]
