"""The quiz page as the browser benchmarks click it (the pattern of tests/test_e2e.py): a question's
choice buttons, the question's id read from their container, and the reveal drawn once its answer is saved.
CSS selectors only, so the sync (benchmarks.app) and async (benchmarks.classroom) Playwright share them."""
import re

QUESTION_ID = re.compile(r"st-key-choice-([0-9a-f]+)-")
# Playwright's evaluate() on a choice button: the class names of its element container.
CONTAINER_CLASSES = "e => e.closest(\"[class*='st-key-choice-']\").className"


def choices(not_of: str = "") -> str:
    """Choice buttons of the current run, none of the question `not_of`. A run cut short by a press leaves
    its elements on the page and between runs nothing is marked stale: the face just answered can still
    show its buttons for a moment after "Next face"."""
    skip = f":not([class*='st-key-choice-{not_of}-'])" if not_of else ""
    return f"[data-testid='stElementContainer'][data-stale='false'][class*='st-key-choice-']{skip} button"


def choice(asked: str, emotion: str) -> str:
    return f".st-key-choice-{asked}-{emotion} button"


def reveal(asked: str) -> str:
    """Drawn only by a run in which the answer to `asked` was saved: seeing it means the answer is stored."""
    return f".st-key-reveal-{asked}"


def question_id(container_classes: str) -> str:
    return QUESTION_ID.search(container_classes)[1]
