"""Practising with someone in the room (pages/partner.py), in Chromium with a fake camera filming a real happy
FER2013 face as the partner's: Guess the face and Bring it out, on a tablet held between two people."""
import re

import pytest
from browser import FINGER, settled
from test_e2e import browser, new_page, no_traceback, open_page, shot, accessible  # noqa: F401 (fixtures)
from test_mirror_e2e import app, camera_browser, data_path, predictor, press, served  # noqa: F401 (fixtures)

from fercore.store import Store

TABLETS = [(820, 1180), (1180, 820)]
# The video's and the last choice's boxes, in the page, once both show.
ON_ONE_SCREEN = """() => { const root = [...(window.fercoreReaders || [])][0]?.root;
  const video = root?.querySelector('video'), buttons = root ? [...root.querySelectorAll('.choices button')] : [];
  if (!video?.videoHeight || !buttons.length) return null;
  const box = e => e.getBoundingClientRect();
  return { videoTop: box(video).top, videoHeight: box(video).height, lastChoice: box(buttons.at(-1)).bottom,
           smallest: Math.min(...buttons.map(b => box(b).height)), inner: innerHeight }; }"""


def sign_in_as(page, nickname: str) -> str:
    """A new learner; their key."""
    page.get_by_role("textbox", name="Your nickname").fill(nickname)
    page.get_by_role("button", name="Continue").click()
    key = page.get_by_test_id("stCode").inner_text().strip()
    page.get_by_role("button", name="I have kept my key").click()
    settled(page)
    return key


def partner_chooses(page, emotion: str) -> None:
    page.get_by_role("button", name="I'm the partner: show me a suggestion").click()
    page.get_by_role("radiogroup").get_by_text(emotion, exact=True).click()
    settled(page)
    page.get_by_role("button", name="Ready: hide it, and the learner may look").click()
    settled(page)


def test_guess_the_face_a_round_is_stored_once_under_the_learner_and_forgotten_with_them(camera_browser, served):
    url, db = served
    with new_page(camera_browser, *TABLETS[0]) as page:
        page.context.grant_permissions(["camera"])
        open_page(page, url, "With someone")
        key = sign_in_as(page, "Robin")
        press(page, "Start the camera")
        partner_chooses(page, "happy")
        choices = page.get_by_role("group", name="What do you see?")
        choices.get_by_role("button", name="happy").wait_for()
        for width, height in TABLETS:  # the partner's face and the choices on one tablet screen, either way round
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")
            boxes = page.wait_for_function(f"""() => {{ const b = ({ON_ONE_SCREEN})();
                return b && b.videoHeight >= 200 && b.videoTop >= 0 && b.lastChoice <= b.inner && b; }}""",
                                         timeout=30_000).json_value()
            assert boxes["videoHeight"] >= 200 and boxes["smallest"] >= FINGER, (width, height, boxes)
        shot(page, "guess-the-face-question")
        accessible(page, "guess the face, the question")
        choice = choices.get_by_role("button", name="happy")
        choice.focus()
        choice.press("Enter")  # by keyboard, as a learner without a mouse chooses

        page.get_by_role("heading", name="What you each saw").wait_for()
        assert page.get_by_test_id("stMetric").filter(has_text="Your partner meant").inner_text().endswith("happy")
        assert page.get_by_test_id("stMetric").filter(has_text="You chose").inner_text().endswith("happy")
        page.get_by_test_id("stMetric").filter(has_text="The model's second opinion").filter(
            has_text=re.compile(r"happy\s*\d+% sure")).wait_for()
        page.get_by_text("You read what your partner meant.").wait_for()
        page.get_by_role("img", name=re.compile("^Your partner's face as you chose, under a heatmap")).wait_for()
        no_traceback(page)
        accessible(page, "guess the face, the reveal")
        shot(page, "guess-the-face-reveal")

        store = Store(db)
        stored = store.answers_with_people("Robin")
        assert [(a.intended, a.choice) for a in stored] == [(3, 3)] and stored[0].model_reading == 3
        assert store.answers("Robin") == []  # kept apart from the quiz's answers

        page.get_by_role("button", name="Next round").click()
        page.get_by_role("button", name="I'm the partner: show me a suggestion").wait_for()
        assert len(store.answers_with_people("Robin")) == 1

        open_page(page, url, "Progress")  # shown "with people", beside the pictures
        page.get_by_role("textbox", name="Your nickname").fill("Robin")
        page.get_by_role("textbox", name="Your key (the first time, leave it empty)").fill(key)
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("heading", name="With people").wait_for()
        page.get_by_text("your first happy face with people").wait_for()  # a mark of practice
        page.get_by_text("Delete all my answers").click()
        page.get_by_label("Type your key to confirm").fill(key)
        page.get_by_role("button", name="Delete everything").click()
        page.get_by_text(re.compile(r"^Deleted 1 answer\(s\) and the nickname Robin")).wait_for()
        assert store.answers_with_people("Robin") == []


def test_bring_it_out_says_there_it_is_when_the_face_shows_it_and_not_when_it_does_not(camera_browser, app):
    with new_page(camera_browser, *TABLETS[1]) as page:
        page.context.grant_permissions(["camera"])
        open_page(page, app, "With someone")
        sign_in_as(page, "Kai")
        page.get_by_role("radiogroup", name="Game").get_by_text("Bring it out").click()
        settled(page)
        page.get_by_label("Emotion to bring out").click()
        page.get_by_role("option", name="angry").click()  # the partner's face shows happy, not angry
        settled(page)
        press(page, "Start the camera")
        page.wait_for_function("() => [...window.fercoreReaders].some(r => r.readings > 60)", timeout=60_000)
        assert page.get_by_role("heading", name="There it is").count() == 0

        page.get_by_label("Emotion to bring out").click()
        page.get_by_role("option", name="happy").click()
        page.get_by_role("heading", name="There it is").wait_for()
        page.get_by_role("img", name=re.compile("^Your partner's face showing happy")).wait_for()
        no_traceback(page)
