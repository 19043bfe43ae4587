"""The training job against a visitor who empties the server's caches, and across a server restart: in
Chromium, as in test_e2e.py, on a generated FER2013 big enough that a long job is still running."""
import json
import os
import re
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from browser import app_server, wait_for_log
from conftest import write_folder_dataset
from test_e2e import MAINTAINER_KEY, accessible, browser, new_page, open_page, unlock_training  # noqa: F401

from fercore.jobs import job_process_alive
from ui.cache_clearing import REFUSED

CLEAR_CACHE = [40, 1]  # Streamlit's BackMsg(clear_cache=True), as its frontend's "Clear cache" sends it
TRAINING = re.compile(r"^Training: epoch \d+, batch [1-9]")


@pytest.fixture
def server_env(tmp_path):
    data = tmp_path / "fer2013"
    write_folder_dataset(data, n_per_class=(1000, 2, 2))  # 7,000 faces: 60 epochs take minutes
    return {"FER_DATA": str(data), "FER_DB": str(tmp_path / "progress.sqlite3"),
            "FER_TRAINED_DIR": str(tmp_path / "trained"), "FER_ACTIVE_MODEL_FILE": str(tmp_path / "active.json"),
            "FER_MAINTAINER_KEY": MAINTAINER_KEY, "FER_E2E_LOG": str(tmp_path / "streamlit.log")}


def send_clear_cache(page, url: str) -> None:
    """What any browser can send over the app's websocket, whatever its menu shows."""
    page.evaluate("""async ([url, message]) => {
        const socket = new WebSocket(url.replace(/^http/, "ws") + "/_stcore/stream", ["streamlit"]);
        await new Promise((opened, failed) => { socket.onopen = opened; socket.onerror = failed; });
        socket.send(new Uint8Array(message));
        await new Promise(sent => setTimeout(sent, 500));
        socket.close();
    }""", [url, CLEAR_CACHE])


def job_still_held(page) -> None:
    """The maintainer's Train page shows the job as it runs (its progress moving), its Stop, and no free Start."""
    first = page.get_by_text(TRAINING).inner_text()
    page.wait_for_function("([pattern, first]) => [...document.querySelectorAll('[data-testid=stProgress] p')]"
                           ".some(p => new RegExp(pattern).test(p.textContent) && p.textContent !== first)",
                           arg=[TRAINING.pattern, first])
    # The page redraws the job each second, its progress before its Stop: waited for, not looked at once.
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_role("button", name="Start")).to_be_disabled()
    page.get_by_text("A job is running.").wait_for()


def the_running_job(env) -> dict:
    jobs = Path(env["FER_TRAINED_DIR"]) / "jobs"
    return json.loads((jobs / (jobs / "current").read_text().strip() / "job.json").read_text())


def test_a_visitor_clearing_the_caches_detaches_nothing_and_a_restarted_server_finds_the_job(browser, server_env):
    try:
        with app_server(server_env) as (url, _), new_page(browser) as maintainer, new_page(browser) as visitor:
            open_page(maintainer, url, "Train")
            unlock_training(maintainer)
            epochs = maintainer.get_by_role("slider", name=re.compile("^Epochs"))
            epochs.focus()
            epochs.press("End")  # the most epochs: the job runs for minutes
            maintainer.get_by_role("button", name="Start").click()
            maintainer.get_by_text(TRAINING).wait_for()

            open_page(visitor, url, "Home")
            send_clear_cache(visitor, url)
            wait_for_log(server_env["FER_E2E_LOG"], REFUSED)
            job_still_held(maintainer)
        job = the_running_job(server_env)
        os.kill(job["pid"], 0)  # the server is gone; its job runs on

        with app_server(server_env) as (url, _), new_page(browser) as maintainer:
            open_page(maintainer, url, "Train")
            unlock_training(maintainer)
            job_still_held(maintainer)
            accessible(maintainer, "a job found again after a restart")
            maintainer.get_by_role("button", name="Stop").click()
            maintainer.get_by_text(re.compile("stopped before anything could be saved|stopped early")).wait_for()
            assert maintainer.get_by_role("button", name="Start").is_enabled()
    finally:  # a job's process outlives its server by design: not the test's
        jobs = Path(server_env["FER_TRAINED_DIR"]) / "jobs"
        if jobs.exists() and job_process_alive(jobs):
            os.kill(the_running_job(server_env)["pid"], signal.SIGKILL)
