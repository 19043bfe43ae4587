"""A class's quiz while a maintainer trains, in Debian's Chromium: --learners learners at once, each in a
browser context of their own, sign in and answer --faces faces each (a choice, that question's reveal,
"Next face", the next question's buttons). Idle, then during a full-size training job started on the
Train page (the default network, all 28,709 Training faces, the page's most epochs), which runs in a
child process at lower priority. Every click is counted against its effect on the page and every answer
against the database: a difference is a lost click, and the run exits with 1 naming learner and face.

    .venv/bin/python -m benchmarks.classroom [--learners 10] [--faces 5]
"""
import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from benchmarks import quiz_page
from fercore.labels import EMOTIONS
from fercore.store import Store
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGES, PROJECT_ROOT, app_server

MAINTAINER_KEY = "benchmark-key"
STEPS = ("first face", "reveal", "next face")
WAIT_MS = 180_000
SHOTS = PROJECT_ROOT / "test-output" / "classroom"  # a learner's page where a click had no effect
# What the quiz shows of its questions: which ids have choices or a reveal on the page, and any message.
SHOWN = """() => {
  const seen = new Set();
  for (const e of document.querySelectorAll("[class*='st-key-choice-'], [class*='st-key-reveal-']")) {
    const m = e.className.match(/st-key-(choice|reveal)-([0-9a-f]+)/);
    seen.add(`${m[1]}s of ${m[2]}${e.closest("[data-stale='true']") ? " (stale)" : ""}`);
  }
  const said = [...document.querySelectorAll("[data-testid='stAlert'], [data-testid='stException']")]
    .map(e => e.innerText.trim().slice(0, 100));
  const state = document.querySelector("[data-testid='stApp']")?.getAttribute("data-test-script-state");
  return [[...seen].join(", ") || "no choices or reveal", `script ${state}`, ...said].join("; ");
}"""


class NoEffect(Exception):
    """A click's effect that did not show as it should."""


@dataclass
class Learner:
    """What one learner did and saw; a click counts once Playwright has made it, an effect once it shows."""
    name: str
    picked: list[str] = field(default_factory=list)  # the emotion clicked for each face, in order
    asked: list[str] = field(default_factory=list)  # the question id of each face answered
    reveals: int = 0
    nexts: int = 0
    new_faces: int = 0
    stored: list[str] = field(default_factory=list)  # the guesses in the database afterwards, oldest first
    seconds: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})
    lost: str = ""  # where this learner stopped, and what the page showed

    def problems(self, faces: int) -> list[str]:
        found = [self.lost] if self.lost else []
        if self.stored != self.picked:
            face = next((n for n, (p, s) in enumerate(zip(self.picked, self.stored), 1) if p != s),
                        min(len(self.picked), len(self.stored)) + 1)
            found.append(f"from face {face}: clicked {', '.join(self.picked) or 'nothing'}; "
                         f"stored {', '.join(self.stored) or 'nothing'}")
        counts = (len(self.picked), self.reveals, len(self.stored), self.nexts, self.new_faces)
        if not found and counts != (faces,) * 5:
            found.append(f"counts {counts} (clicks, reveals, stored, next clicks, new faces), not {faces} each")
        return [f"{self.name}, {problem}" for problem in found]


@asynccontextmanager
async def browser_page(browser):
    context = await browser.new_context(viewport={"width": 1280, "height": 1600})
    context.set_default_timeout(WAIT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def settled(page) -> None:
    """tests.browser.settled for the async API: the page's script run has finished."""
    await page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


async def open_page(page, url: str, title: str) -> None:
    await page.goto(url)
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    await page.get_by_role("heading", name=PAGES[title]).wait_for()
    await settled(page)  # Enter before the form has arrived submits nothing


async def practise(browser, url: str, name: str, faces: int) -> Learner:
    """Sign in, then answer `faces` faces, each click checked against its effect. A wait that ends
    without the effect stops this learner there: it is the defect the benchmark looks for."""
    done = Learner(name)
    async with browser_page(browser) as page:
        face, step = 0, "the quiz page"
        try:
            await open_page(page, url, "Quiz")
            box = page.get_by_role("textbox", name="Your nickname")
            await box.fill(name)
            step, started = "the first face after the nickname's Enter", time.perf_counter()
            await box.press("Enter")
            await page.locator(quiz_page.choices()).first.wait_for()
            done.seconds["first face"].append(time.perf_counter() - started)
            asked = ""
            for face in range(1, faces + 1):
                step = "a settled page to choose on"
                await settled(page)  # as the tests do: a person looks at the face before choosing
                offered = page.locator(quiz_page.choices(not_of=asked)).first
                asked = quiz_page.question_id(await offered.evaluate(quiz_page.CONTAINER_CLASSES))
                emotion = (await offered.inner_text()).strip().lower()
                step = f"the click on {emotion} of question {asked}"
                await page.locator(quiz_page.choice(asked, emotion)).click()
                started = time.perf_counter()
                done.picked.append(emotion)
                done.asked.append(asked)
                step = f"the reveal of question {asked} after a click on {emotion}"
                await page.locator(quiz_page.reveal(asked)).wait_for()
                done.seconds["reveal"].append(time.perf_counter() - started)
                done.reveals += 1
                step = f"the click on Next face in the reveal of question {asked}"
                await page.locator(quiz_page.reveal(asked)).get_by_role("button", name="Next face").click()
                started = time.perf_counter()
                done.nexts += 1
                step = f"choices of a question other than {asked} after Next face"
                following = page.locator(quiz_page.choices(not_of=asked)).first
                await following.wait_for()
                done.seconds["next face"].append(time.perf_counter() - started)
                shown = quiz_page.question_id(await following.evaluate(quiz_page.CONTAINER_CLASSES))
                if shown in done.asked:
                    raise NoEffect(f"the choices shown are of question {shown}, answered before")
                done.new_faces += 1
        except (PlaywrightError, NoEffect) as exc:
            shown = await what_shows(page, name, face)
            where = f"face {face}" if face else "before the first face"
            done.lost = f"{where}: waited for {step}: {str(exc).splitlines()[0]}; {shown}"
    return done


async def what_shows(page, name: str, face: int) -> str:
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{name}-face{face}.png"
        await page.screenshot(path=shot, full_page=True, timeout=30_000)
        return f"the page showed: {await page.evaluate(SHOWN)} ({shot.relative_to(PROJECT_ROOT)})"
    except PlaywrightError as exc:  # a crashed page: the failure itself matters more
        return f"the page could not be read ({str(exc).splitlines()[0]})"


async def start_full_training(page, url: str) -> str:
    """As a maintainer on the Train page: the default network, every Training face, the most epochs.
    Returns the job's settings as the form showed them."""
    def slider(label):
        return page.get_by_role("slider", name=re.compile(f"^{label}"))

    await open_page(page, url, "Train")
    await page.get_by_text("Maintainer", exact=True).click()
    await page.get_by_role("textbox", name="Maintainer key").fill(MAINTAINER_KEY)
    await page.get_by_role("textbox", name="Maintainer key").press("Enter")  # not a click: see tests' unlock_training
    await page.get_by_text("training is unlocked in this browser").wait_for()
    await page.get_by_test_id("stSelectbox").click()
    await page.get_by_role("option", name="default").click()
    for label in ("Epochs", "Training faces"):  # both to their largest; the batch size stays the page's
        await slider(label).focus()
        await slider(label).press("End")
    chosen = [f"{label.lower()} {await slider(label).get_attribute('aria-valuetext')}"
              for label in ("Epochs", "Training faces", "Faces per step")]
    await page.get_by_role("button", name="Start").click()
    await page.get_by_text(re.compile(r"^Training: epoch 1, batch [1-9]\d")).wait_for(timeout=600_000)
    return ", ".join(chosen)


async def phase(browser, url: str, db: str, label: str, prefix: str, learners: int, faces: int,
                idle: list[float] | None = None) -> tuple[list[float], list[str]]:
    """`learners` learners at once; prints the counts and the timing medians, returns the medians and
    every difference found."""
    started = time.perf_counter()
    done = await asyncio.gather(*(practise(browser, url, f"{prefix}{n}", faces) for n in range(learners)))
    took = time.perf_counter() - started
    store = Store(db)
    for learner in done:
        learner.stored = [EMOTIONS[answer.guess] for answer in store.answers(learner.name)]
    said = [f"{sum(map(count, done))} {what}" for what, count in (
        ("answer clicks", lambda one: len(one.picked)), ("reveals seen", lambda one: one.reveals),
        ("answers stored", lambda one: len(one.stored)), ("next-face clicks", lambda one: one.nexts),
        ("new faces seen", lambda one: one.new_faces))]
    print(f"{label}: {', '.join(said[:3])}; {', '.join(said[3:])} "
          f"({learners} learners x {faces} faces at once, {took:.0f} s)", flush=True)
    medians = []
    for n, step in enumerate(STEPS):
        seconds = [s for learner in done for s in learner.seconds[step]]
        if not seconds:
            medians.append(float("nan"))
            continue
        medians.append(statistics.median(seconds))
        ratio = f", {medians[-1] / idle[n]:.2f}x idle" if idle else ""
        print(f"{label:<16}{step:<11} median {medians[-1]:5.2f} s{ratio} "
              f"(of {len(seconds)}: fastest {min(seconds):.2f}, slowest {max(seconds):.2f})", flush=True)
    return medians, [problem for learner in done for problem in learner.problems(faces)]


async def classroom(learners: int, faces: int) -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory() as scratch:
        env = {"FER_DB": f"{scratch}/progress.sqlite3", "FER_TRAINED_DIR": f"{scratch}/trained",
               "FER_ACTIVE_MODEL_FILE": f"{scratch}/active.json", "FER_MAINTAINER_KEY": MAINTAINER_KEY}
        # One Playwright driver and one Chromium for the whole class, a context per learner: on 2 cores,
        # a driver and a browser per learner (sync Playwright in threads) would load the machine themselves.
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            with app_server(env) as (url, _):
                # The quiz faces and the model load once per server: not what a class waits for.
                _, found = await phase(browser, url, env["FER_DB"], "warm-up", "warm-up", 1, 1)
                problems += found
                idle, found = await phase(browser, url, env["FER_DB"], "idle", "idle", learners, faces)
                problems += found
                async with browser_page(browser) as maintainer:
                    job = await start_full_training(maintainer, url)
                    print(f"a full-size training job is running (default network, {job})", flush=True)
                    _, found = await phase(browser, url, env["FER_DB"], "during training", "busy", learners, faces,
                                           idle)
                    problems += found
                    try:
                        progress = maintainer.get_by_text(re.compile(r"^Training: epoch \d+"))
                        print(f"the job, as the class finished: {await progress.first.inner_text(timeout=30_000)}")
                        await maintainer.get_by_role("button", name="Stop").click()
                        stopped = re.compile("stopped before anything could be saved|stopped early")
                        await maintainer.get_by_text(stopped).wait_for()
                    except PlaywrightError as exc:
                        shown = await what_shows(maintainer, "maintainer", 0)
                        problems.append(f"maintainer: no report of the job stopping after Stop "
                                        f"({str(exc).splitlines()[0]}); {shown}")
            await browser.close()
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=10, help="learners practising at once, idle and in training")
    parser.add_argument("--faces", type=int, default=5, help="faces each learner answers")
    args = parser.parse_args()
    problems = asyncio.run(classroom(args.learners, args.faces))
    if problems:
        print(f"{len(problems)} differences between clicks and their effects:", *problems, sep="\n  ")
        sys.exit(1)
    print("every click had its effect and every answer was stored as clicked")


if __name__ == "__main__":
    main()
