"""The app as a person meets it, in Debian's Chromium: from `streamlit run app.py` to the first
rendered page (cold start), a learner's first quiz face on a fresh clone (no decoded-data cache, an
empty database), and how long each page takes to appear after a click in the navigation.

    .venv/bin/python -m benchmarks.app [--starts 3] [--rounds 3] [--arrive-after 20]
"""
import argparse
import statistics
import tempfile
import time

from benchmarks import quiz_page
from tests.browser import PAGES, app_server, chromium, settled

HOME = PAGES["Home"]
SWITCHES = [*list(PAGES)[1:], "Home"]  # away from the home page and back


def cold_start(browser, env) -> tuple[float, float]:
    """Seconds from launching the server to its health check answering, and to the home page's title."""
    with app_server(env) as (url, started):
        serving = time.perf_counter() - started
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("heading", name=HOME).wait_for(timeout=60_000)
        rendered = time.perf_counter() - started
        page.close()
    return serving, rendered


def first_quiz_face(browser, env, arrive_after: float = 0) -> tuple[float, float, float]:
    """A fresh server with an empty data cache and database, its first learner arriving `arrive_after`
    seconds after it answers: seconds from the nickname's Enter to the first face's answer buttons, from an
    answer to that question's reveal (drawn after its heatmap), and from "Next face" to the buttons of the
    next question."""
    with tempfile.TemporaryDirectory() as fresh, app_server(
            env | {"FER_CACHE": f"{fresh}/cache", "FER_DB": f"{fresh}/progress.sqlite3"}) as (url, _):
        time.sleep(arrive_after)
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Quiz").click()
        page.get_by_role("heading", name=PAGES["Quiz"]).wait_for()
        settled(page)
        box = page.get_by_role("textbox", name="Your nickname")
        box.fill("Bench")
        started = time.perf_counter()
        box.press("Enter")
        page.locator(quiz_page.choices()).first.wait_for()
        first = time.perf_counter() - started
        settled(page)
        offered = page.locator(quiz_page.choices()).first
        asked = quiz_page.question_id(offered.evaluate(quiz_page.CONTAINER_CLASSES))
        emotion = offered.inner_text().strip().lower()
        started = time.perf_counter()
        page.locator(quiz_page.choice(asked, emotion)).click()
        page.locator(quiz_page.reveal(asked)).wait_for()
        reveal = time.perf_counter() - started
        started = time.perf_counter()
        page.locator(quiz_page.reveal(asked)).get_by_role("button", name="Next face").click()
        page.locator(quiz_page.choices(not_of=asked)).first.wait_for()
        following = time.perf_counter() - started
        page.close()
    return first, reveal, following


def page_switches(browser, env, rounds: int) -> dict[str, list[float]]:
    """Seconds from a click in the navigation to the page's title; the first round is each page's first visit."""
    times = {title: [] for title in SWITCHES}
    with app_server(env) as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("heading", name=HOME).wait_for(timeout=60_000)
        nav = page.get_by_test_id("stSidebarNav")
        for _ in range(rounds):
            for title in SWITCHES:
                started = time.perf_counter()
                nav.get_by_role("link", name=title).click()
                page.get_by_role("heading", name=PAGES[title]).wait_for(timeout=60_000)
                times[title].append(time.perf_counter() - started)
        page.close()
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--rounds", type=int, default=3, help="visits to every page")
    parser.add_argument("--arrive-after", type=float, default=20,
                        help="also time the first quiz face of a learner who arrives this long after the server started")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, chromium() as browser:
        env = {"FER_DB": f"{scratch}/progress.sqlite3", "FER_ACTIVE_MODEL_FILE": f"{scratch}/active.json"}
        starts = [cold_start(browser, env) for _ in range(args.starts)]
        print(f"cold start, median of {args.starts}: server answering after "
              f"{statistics.median(s for s, _ in starts):.2f} s, home page rendered after "
              f"{statistics.median(r for _, r in starts):.2f} s (each: "
              + ", ".join(f"{r:.2f}" for _, r in starts) + ")")
        for arrive_after in (0, args.arrive_after):
            faces = [first_quiz_face(browser, env, arrive_after) for _ in range(args.starts)]
            print(f"the first learner arriving {arrive_after:.0f} s after the server answers:")
            for what, seconds in zip(("first quiz face (fresh clone, no cache)", "first reveal with heatmap",
                                      "next face"), zip(*faces)):
                print(f"    {what}, median of {args.starts}: {statistics.median(seconds):.2f} s (each: "
                      + ", ".join(f"{s:.2f}" for s in seconds) + ")")
        for title, seconds in page_switches(browser, env, args.rounds).items():
            later = f", later visits median {statistics.median(seconds[1:]) * 1000:.0f} ms" if len(seconds) > 1 else ""
            print(f"switch to {title:<16} first visit {seconds[0] * 1000:5.0f} ms{later}")


if __name__ == "__main__":
    main()
