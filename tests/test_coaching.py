"""What an educator reads about a learner: each emotion's trend in words, confusions, who has not practised
lately, and the one-page report."""
from datetime import datetime, timedelta, timezone

from fercore.coaching import (confusions, emotion_trends, not_practised_lately, report_html, summarize)
from fercore.store.records import PeopleTally
from fercore.labels import INDEX
from fercore.store import ClassMember, Classroom, Focus, StoredAnswer

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
FEAR, SAD, HAPPY = INDEX["fear"], INDEX["sad"], INDEX["happy"]


def answers(*pairs, start=NOW - timedelta(days=3), session=None):
    """StoredAnswers from (true, guess) pairs, a minute apart, oldest first."""
    return [StoredAnswer(f"PublicTest_{i}", true, guess, true, 1, i, "Zoe", session, start + timedelta(minutes=i))
            for i, (true, guess) in enumerate(pairs)]


def test_each_emotions_trend_compares_earlier_and_recent_answers_in_words():
    history = answers(*[(FEAR, SAD)] * 4, *[(FEAR, FEAR)] * 4, *[(HAPPY, HAPPY)] * 3, *[(SAD, SAD)] * 3,
                      *[(SAD, FEAR)] * 3)
    trends = {t.emotion: t for t in emotion_trends(history)}
    assert list(trends) == ["fear", "happy", "sad"]  # in the usual order, only what was practised
    assert (trends["fear"].earlier, trends["fear"].recent, trends["fear"].direction) == (0.0, 1.0, "improving")
    assert trends["sad"].direction == "fewer matches lately"
    assert (trends["happy"].earlier, trends["happy"].direction) == (None, "too few answers to tell")


def test_confusions_come_most_frequent_first():
    history = answers((FEAR, SAD), (FEAR, SAD), (SAD, FEAR), (HAPPY, HAPPY))
    assert [(c.emotion, c.read_as, c.times) for c in confusions(history)] == [("fear", "sad", 2), ("sad", "fear", 1)]


def test_who_has_not_practised_lately():
    joined = NOW - timedelta(days=30)
    members = [ClassMember("Ana", joined, [], None),
               ClassMember("Ben", joined, answers((SAD, SAD), start=NOW - timedelta(days=9)), None),
               ClassMember("Zoe", joined, answers((SAD, SAD), start=NOW - timedelta(days=1)), None)]
    assert not_practised_lately(members, NOW) == ["Ana", "Ben"]


def test_the_report_says_what_was_practised_the_trends_confusions_and_next_step_and_escapes_what_people_typed():
    history = answers((FEAR, SAD), (FEAR, SAD), (SAD, SAD), session="ABCDEF") + answers(
        (HAPPY, HAPPY), start=NOW - timedelta(days=1))
    classroom = Classroom("QWERTY", "Blue <group>", NOW)
    focus = Focus(classroom, "Zoe", ("fear", "sad"), 2, "Eyebrows & eyes", NOW)
    page = report_html(summarize("Zoe", history), classroom.name, focus, "<script>x</script> Great week", NOW,
                       {"happy": PeopleTally(faces=3, matched=2, model_matched=3)})
    assert "Practice report: Zoe" in page and "Class Blue &lt;group&gt;" in page
    assert "<td>happy</td><td>3</td><td>2</td><td>3</td>" in page  # faces of people read in Guess the face
    assert "4 faces" in page and "3 in class sessions and\n1 on their own" in page
    assert "<td>fear</td><td>2</td><td></td><td>0%</td><td>too few answers to tell</td>" in page
    assert "fear was read as sad twice" in page
    assert "practise fear and sad at level 2" in page and "Eyebrows &amp; eyes" in page
    assert "&lt;script&gt;x&lt;/script&gt; Great week" in page and "<script>" not in page
    assert "@media print" in page and "65%" in page


def test_a_full_report_prints_on_one_a4_page_in_chromium():
    import os
    import re
    from pathlib import Path

    import pytest
    from browser import CHROMIUM, chromium

    if not Path(CHROMIUM).exists():
        if os.environ.get("FER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FER_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    every_emotion = [(true, (true + shift) % 7) for true in range(7) for shift in (0, 0, 1, 0, 2, 0, 0, 0)]
    classroom = Classroom("QWERTY", "Blue group", NOW)
    focus = Focus(classroom, "Zoe", ("fear", "sad"), 2, "Look at the eyebrows first, then the mouth. " * 5, NOW)
    page_html = report_html(summarize("Zoe", answers(*every_emotion)), classroom.name, focus,
                            "A good week: calm and focused. " * 8, NOW)
    with chromium() as browser:
        page = browser.new_page()
        page.set_content(page_html)
        pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
