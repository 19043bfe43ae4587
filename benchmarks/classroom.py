"""A class's quiz while a maintainer trains: in Debian's Chromium, each learner (a browser context of
their own) signs in, waits for the first face, answers, waits for the reveal with its heatmap, and
asks for the next face. Timed idle, then during a full-size training job started on the Train page
(the default network, all 28,709 Training faces, the page's most epochs), which runs in a child
process at lower priority.

    .venv/bin/python -m benchmarks.classroom [--learners 5]
"""
import argparse
import re
import statistics
import tempfile
import time
from contextlib import contextmanager

from tests.browser import PAGES, app_server, chromium, settled

CHOICES = "[data-testid='stElementContainer'][data-stale='false'][class*='st-key-choice-'] button"
MAINTAINER_KEY = "benchmark-key"
STEPS = ("first face", "reveal", "next face")
WAIT_MS = 180_000


@contextmanager
def browser_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_page(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=PAGES[title]).wait_for()


def learner(browser, url: str, name: str) -> tuple[float, float, float]:
    """Seconds from the nickname's Enter to the answer buttons, from an answer to the heatmap, and from
    "Next face" to the next answer buttons."""
    with browser_page(browser) as page:
        open_page(page, url, "Quiz")
        page.get_by_role("textbox", name="Your nickname").fill(name)
        started = time.perf_counter()
        page.get_by_role("textbox", name="Your nickname").press("Enter")
        page.locator(CHOICES).first.wait_for()
        first = time.perf_counter() - started
        started = time.perf_counter()
        page.locator(CHOICES).first.click()
        page.get_by_role("img", name=re.compile("under a heatmap")).wait_for()
        reveal = time.perf_counter() - started
        started = time.perf_counter()
        page.get_by_role("button", name="Next face").click()
        page.locator(CHOICES).first.wait_for()
        return first, reveal, time.perf_counter() - started


def start_full_training(page, url: str) -> None:
    """As a maintainer on the Train page: the default network, every Training face, the most epochs."""
    open_page(page, url, "Train")
    settled(page)  # Enter before the form has arrived submits nothing
    page.get_by_text("Maintainer", exact=True).click()
    page.get_by_role("textbox", name="Maintainer key").fill(MAINTAINER_KEY)
    page.get_by_role("textbox", name="Maintainer key").press("Enter")  # not a click: see tests' unlock_training
    page.get_by_text("training is unlocked in this browser").wait_for()
    page.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="default").click()
    for slider in page.get_by_role("slider").all():  # epochs and training faces: both to their largest
        slider.focus()
        slider.press("End")
    page.get_by_role("button", name="Start").click()
    page.get_by_text(re.compile(r"^Training: epoch 1, batch [1-9]\d")).wait_for(timeout=600_000)


def rounds(browser, url: str, prefix: str, count: int) -> list[tuple[float, float, float]]:
    return [learner(browser, url, f"{prefix}{n}") for n in range(count)]


def report(label: str, timings: list[tuple[float, float, float]], idle: list[float] | None = None) -> list[float]:
    medians = [statistics.median(step) for step in zip(*timings)]
    for step, median, seconds in zip(STEPS, medians, zip(*timings)):
        ratio = f", {median / idle[STEPS.index(step)]:.2f}x idle" if idle else ""
        print(f"{label:<16}{step:<11} median {median:5.2f} s{ratio} (each: {', '.join(f'{s:.2f}' for s in seconds)})")
    return medians


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=5, help="learners timed idle and during training")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, chromium() as browser:
        env = {"FER_DB": f"{scratch}/progress.sqlite3", "FER_TRAINED_DIR": f"{scratch}/trained",
               "FER_ACTIVE_MODEL_FILE": f"{scratch}/active.json", "FER_MAINTAINER_KEY": MAINTAINER_KEY}
        with app_server(env) as (url, _):
            learner(browser, url, "warm-up")  # the quiz faces and the model load once per server
            idle = report("idle", rounds(browser, url, "idle", args.learners))
            with browser_page(browser) as maintainer:
                start_full_training(maintainer, url)
                print("a full-size training job is running (default network, 28,709 faces)")
                report("during training", rounds(browser, url, "busy", args.learners), idle)
                maintainer.get_by_role("button", name="Stop").click()


if __name__ == "__main__":
    main()
