"""The quiz on a phone held upright (390x844, touch): the face, the question and every choice on the first
screen, and after an answer the verdict and "Next face" within one further screen. Measured element boxes,
like tests/test_touch.py measures tablets."""
from test_e2e import app, browser, choice_buttons, question_id, reveal
from test_touch import FACE, at_the_top, box, navigation_folded, signed_in, touch_page

__all__ = ["app", "browser"]  # test_e2e's fixtures, module-scoped: one app server for this module


def scrolled(page) -> float:
    """How far Streamlit's scroller has been moved down."""
    return page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollTop), scrollY)")


def test_on_a_phone_the_face_and_choices_share_the_first_screen_and_the_verdict_and_next_face_the_next(browser, app):
    url, _ = app
    with touch_page(browser, "phone") as page:
        height = page.viewport_size["height"]
        page.goto(f"{url}/quiz")
        navigation_folded(page)
        signed_in(page, "Pia")
        choice_buttons(page).first.wait_for()
        face = page.get_by_role("img", name=FACE)
        at_the_top(page, face)
        choices = choice_buttons(page)
        parts = {"face": box(face)} | {f"choice {i}": box(choices.nth(i)) for i in range(choices.count())}
        print({name: (round(b["y"]), round(b["y"] + b["height"]), round(b["width"])) for name, b in parts.items()})
        assert scrolled(page) == 0
        off_screen = {name: round(b["y"] + b["height"]) for name, b in parts.items()
                      if b["y"] < 0 or b["y"] + b["height"] > height}
        assert not off_screen, f"below the first {height} px screen: {off_screen}"
        assert box(face)["width"] >= 200  # still a face to read, not a thumbnail

        asked = question_id(choices.first)
        choices.first.tap()
        shown = reveal(page, asked)
        shown.wait_for()
        at_the_top(page, face)
        verdict = shown.get_by_test_id("stMarkdownContainer").first
        next_face = shown.get_by_role("button", name="Next face")
        parts = {"verdict": box(verdict), "Next face": box(next_face)}
        print({name: (round(b["y"]), round(b["y"] + b["height"])) for name, b in parts.items()})
        top = min(b["y"] for b in parts.values())
        bottom = max(b["y"] + b["height"] for b in parts.values())
        # one scroll from the top shows both together: no taller than a screen, none below the second
        assert bottom - top <= height and bottom <= 2 * height, parts
