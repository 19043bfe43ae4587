"""The quiz on tablets and phones, as learners hold them: Chromium with touch at a phone's, a tablet's (both
ways round) and a touch laptop's size. The element boxes are measured, not screenshots compared.
Screenshots of each size land in test-output/e2e/touch-*.png."""
import re

import pytest
from browser import FINGER, PAGES, settled
from test_e2e import (SHOTS, accessible, app, browser, choice_buttons, new_page, nothing_stale, question_id, reveal,
                      sign_in)

from fercore.labels import EMOTIONS

__all__ = ["app", "browser"]  # test_e2e's fixtures, module-scoped: one app server for this module

DEVICES = {  # viewport and whether the browser is a phone's or tablet's (Playwright's is_mobile)
    "phone": ((390, 844), True),
    "tablet portrait": ((820, 1180), True),
    "tablet landscape": ((1180, 820), True),
    "touch laptop": ((1366, 768), False),
}
FACE = re.compile("^A face from FER2013")
HEATMAP = re.compile("under a heatmap")
FINGER_ROOM = 8  # px at least between neighbouring choices

# Every element Streamlit draws sits in its own element container; a picture's full-screen button floats
# over its corner. Pairs that cross by more than a pixel, one not inside the other, overlap on screen.
OVERLAPS = """() => {
  const shown = e => { const r = e.getBoundingClientRect();  // a closed expander's content has boxes too
    return r.width > 0 && r.height > 0 && e.checkVisibility({opacityProperty: true, visibilityProperty: true}); };
  const parts = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"], '
    + '[data-testid="stElementToolbar"], [data-testid="stExpandSidebarButton"]')].filter(shown);
  const name = e => { const r = e.getBoundingClientRect(), inner = e.firstElementChild;
    return `${inner ? inner.dataset.testid || inner.tagName : e.dataset.testid} "${e.innerText.trim().slice(0, 30)}" `
      + `at ${Math.round(r.x)},${Math.round(r.y)} ${Math.round(r.width)}x${Math.round(r.height)}`; };
  const found = [];
  parts.forEach((a, i) => parts.slice(i + 1).forEach(b => {
    if (a.contains(b) || b.contains(a)) return;
    const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    const across = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const down = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (across > 1 && down > 1) found.push(name(a) + ' | ' + name(b));
  }));
  return found;
}"""
# What a finger presses: buttons with words, expanders, tabs, and the labels of radio buttons and switches.
TARGETS = """() => [...document.querySelectorAll('[data-testid="stMain"] :is(button, summary, [role=tab], '
    + 'label:has(input[type=radio]), label:has(input[type=checkbox]))')]
  .filter(e => e.checkVisibility() && e.innerText.trim())
  .map(e => [e.innerText.trim().split('\\n')[0], e.getBoundingClientRect().height])"""


def touch_page(browser, device: str):
    (width, height), mobile = DEVICES[device]
    return new_page(browser, width, height, has_touch=True, is_mobile=mobile)


def at_the_top(page, *pictures) -> None:
    """The page as it first shows, once Streamlit has finished drawing and the pictures have arrived (on a
    first visit Streamlit's picture code loads after the page: until then a placeholder holds the place)."""
    settled(page)
    nothing_stale(page)
    for picture in pictures:
        picture.wait_for()
    page.wait_for_function("[...document.images].every(image => image.complete && image.naturalWidth > 0)")
    page.evaluate("document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")  # Streamlit's scroller


def shot(page, device: str, state: str) -> None:
    """The screen as the learner sees it, not the whole page: what fits matters here."""
    page.screenshot(path=SHOTS / f"touch-{device.replace('touch ', '').replace(' ', '-')}-{state}.png")


def box(locator) -> dict:
    return locator.bounding_box()


def on_one_screen(page, *locators) -> bool:
    height = page.viewport_size["height"]
    return all(box(l)["y"] >= 0 and box(l)["y"] + box(l)["height"] <= height for l in locators)


def folded(page) -> None:
    """Wait until the sidebar has slid away: a tap while the page is still widening can land beside its aim."""
    page.wait_for_function("""() => { const bar = document.querySelector('[data-testid="stSidebar"]');
        return bar.dataset.collapsed === 'true' && bar.getBoundingClientRect().right <= 0; }""")


def navigation_folded(page) -> None:
    """The quiz, just opened: its sidebar folded away (Streamlit folds it a run later than the page draws)."""
    page.get_by_role("heading", name=PAGES["Quiz"]).wait_for()
    folded(page)
    # The app's styles: st.html draws them once its part of Streamlit's code has loaded, which on a first
    # visit can be after the page's text. Their 4rem above the title says they are in place.
    page.wait_for_function("""getComputedStyle(document.querySelector('[data-testid="stMainBlockContainer"]'))
        .paddingTop === '64px'""")
    assert box(page.get_by_test_id("stExpandSidebarButton"))["height"] >= FINGER


def signed_in(page, nickname: str) -> None:
    """A new learner's nickname, then a tap on "I have kept my key": the quiz's question follows."""
    sign_in(page, nickname)
    page.get_by_role("button", name="I have kept my key").tap()
    page.get_by_text("This is your personal key").wait_for(state="detached")


def nothing_overlaps(page) -> None:
    overlapping = page.evaluate(OVERLAPS)
    assert not overlapping, overlapping


def fingers_fit(page, where: str) -> None:
    small = [(text, height) for text, height in page.evaluate(TARGETS) if height < FINGER]
    assert not small, f"{where}: under {FINGER} px high: {small}"


@pytest.mark.parametrize("device", DEVICES)
def test_a_learner_answers_by_touch_with_the_face_the_largest_thing_on_the_screen(browser, app, device):
    url, store = app
    tablet = device != "phone"
    nickname = device.replace(" ", "")
    with touch_page(browser, device) as page:
        page.goto(f"{url}/quiz")
        navigation_folded(page)
        signed_in(page, nickname)
        choice_buttons(page).first.wait_for()
        face = page.get_by_role("img", name=FACE)
        at_the_top(page, face)
        shot(page, device, "question")

        choices = choice_buttons(page)
        boxes = [box(choices.nth(i)) for i in range(choices.count())]
        assert box(face)["width"] >= 260  # a phone's leaves its choices room on the first screen (test_phone.py)
        assert all(b["height"] >= FINGER for b in boxes)
        for left, right in zip(boxes, boxes[1:]):  # a finger's room between neighbours, across or down
            assert max(right["x"] - left["x"] - left["width"], right["y"] - left["y"] - left["height"]) >= FINGER_ROOM
        assert on_one_screen(page, face, *[choices.nth(i) for i in range(choices.count())])
        nothing_overlaps(page)
        fingers_fit(page, "question")
        accessible(page, f"question, {device}")

        asked = question_id(choices.first)
        picked = choices.first.inner_text().strip().lower()
        choices.first.tap()
        reveal(page, asked).wait_for()
        assert [EMOTIONS[a.guess] for a in store.answers(nickname)] == [picked]
        heatmap = page.get_by_role("img", name=HEATMAP)
        at_the_top(page, face, heatmap)
        shot(page, device, "reveal")
        next_face = reveal(page, asked).get_by_role("button", name="Next face")
        assert box(face)["width"] >= 260
        assert box(next_face)["height"] >= FINGER
        if tablet:
            assert on_one_screen(page, face, heatmap, next_face)
        nothing_overlaps(page)
        fingers_fit(page, "reveal")
        accessible(page, f"reveal, {device}")

        next_face.tap()
        choice_buttons(page, asked).first.wait_for()


def test_the_folded_navigation_opens_by_touch_and_every_learners_page_has_finger_sized_targets(browser, app):
    url, _ = app
    with touch_page(browser, "tablet portrait") as page:
        page.goto(f"{url}/quiz")
        navigation_folded(page)
        signed_in(page, "Tove")
        choice_buttons(page).first.wait_for()
        settled(page)
        fingers_fit(page, "quiz")
        for title in ("Progress", "Your photo", "Live mirror"):
            page.get_by_test_id("stExpandSidebarButton").tap()
            page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).tap()
            page.get_by_role("heading", name=PAGES[title]).wait_for()
            settled(page)
            # Streamlit keeps the sidebar as the learner left it, so they fold it again
            page.get_by_role("button", name="Collapse sidebar").tap()
            folded(page)
            if title == "Your photo":
                page.get_by_text("Use the camera for mirror practice").tap()  # mirror practice's choices too
                assert page.get_by_role("switch", name="Use the camera for mirror practice").is_checked()
                page.get_by_text("Emotion to practise").wait_for()
                settled(page)
            fingers_fit(page, title)
            nothing_overlaps(page)
