"""Train or tune fercore's CNN from the browser and watch it learn."""
import time
import uuid
from pathlib import Path

import streamlit as st

from fercore import registry
from fercore.artifact import read_metadata
from fercore.errors import FercoreError
from fercore.jobs import DEMO_TRAINING as DEMO, RUNNING, JobLimits, progress
from fercore.roles import MAINTAINER_KEY_VARIABLE, maintainer_key_set, unlocks_training
from ui import charts
from ui.dataset_panel import dataset_panel, dataset_problem
from ui.problems import problem_kept, show_problem
from ui.resources import client, job_runner
from ui.text import plain, plain_error, without_server_paths

st.title("Train a model")
st.caption("Training runs on this server in a background process, at lower priority so the quiz stays quick: "
           "you can leave this page and come back, or open it in another tab. One job runs at a time.")


READ_ONLY = (f"Training is read-only on this server: you can watch a running job and see the trained models. "
             f"Starting, stopping or tuning training and choosing the model the app uses need the maintainer's key. "
             f"Running fercore on your own computer? Start it with a key of your choosing, "
             f"`{MAINTAINER_KEY_VARIABLE}=pick-a-key streamlit run app.py`, then type that key here.")
TRAINING_FACES = [500, 1000, 2000, 5000, 10000, 28709]
BATCH_SIZES = [32, 64, 128]
# What the lines of the training charts are, in plain words, under every chart of a run.
WATCHING = ("Solid line: accuracy on the faces the network trains on. Dashed line: accuracy on PublicTest, "
            "3,589 faces it never trains on, which is the one that shows whether it learned to read faces "
            "rather than remember them. With the first settings of the form it climbs from about 35% to about "
            "45% in about a minute (25 to 80 seconds on two processor cores, by processor); people agree with "
            "FER2013's labels about 65% of the time.")
MEASURING = ("Training is over. Measuring the kept model on PublicTest and PrivateTest, 7,178 faces it never "
             "trained on, each read twice (as it is and mirrored), as the app reads faces.")


def browser_id() -> str:
    """This browser session's id: the owner of the jobs it starts."""
    return st.session_state.setdefault("browser_id", uuid.uuid4().hex)


def is_maintainer() -> bool:
    return bool(st.session_state.get("maintainer")) and maintainer_key_set()


def maintainer_unlock() -> None:
    """The key box that unlocks this browser session, or why there is none."""
    if not maintainer_key_set():
        st.info(READ_ONLY)
        return
    if is_maintainer():
        st.caption("Maintainer: training is unlocked in this browser.")
        return
    with st.expander("Maintainer", expanded=False):
        with st.form("unlock", border=False):
            st.text_input("Maintainer key", type="password", key="maintainer_key")
            st.form_submit_button("Unlock training", on_click=unlock)
        if st.session_state.get("wrong_key"):
            st.warning("That is not this server's maintainer key.")
        show_problem("unlock_problem")


def unlock() -> None:
    # Callbacks, here and below: one runs before the next run whatever that run draws, so a press made
    # while the page redraws (each second while a job runs) is never lost with a cut-short run.
    st.session_state["wrong_key"] = False
    with problem_kept("unlock_problem"):  # too many wrong keys: how long to wait
        right = unlocks_training(st.session_state.pop("maintainer_key", ""), client())
        st.session_state.update(maintainer=right, wrong_key=not right)


def start_form(busy: bool) -> None:
    limits = JobLimits.from_env()
    with st.form("start"):
        st.radio("What to run", ["Train", "Tune (Hyperband)"], horizontal=True, key="job_mode",
                 help="Tuning tries many settings briefly and keeps the best on PublicTest.")
        left, right = st.columns(2)
        left.selectbox("Architecture", ["seed", "default"], index=["seed", "default"].index(DEMO["arch"]),
                       key="job_arch", help="seed: the small prototype network (fast). default: deeper, with batch norm.")
        right.slider("Epochs (for tuning: the most any trial gets)", 1, max(limits.epochs, 2),
                     min(DEMO["epochs"], limits.epochs), key="job_epochs")
        faces = [n for n in TRAINING_FACES if n <= limits.train_faces] or [limits.train_faces]
        left.select_slider("Training faces", faces, value=max([n for n in faces if n <= DEMO["subset"]] or faces[:1]),
                           key="job_subset", help="A small subset finishes in a couple of minutes on a laptop CPU.")
        left.select_slider("Faces per step (batch size)", BATCH_SIZES, value=DEMO["batch_size"], key="job_batch",
                           help="Smaller batches take more, smaller steps per epoch: quicker learning in a "
                                "short run. Tuning uses 64.")
        right.toggle("Augmentation (flips, shifts, erasing)", value=DEMO["augment"] > 0, key="job_augment",
                     help="Helps long runs on all the faces; in a short run it slows learning down.")
        right.number_input("Tuning time budget (minutes)", 1, limits.tune_minutes, min(5, limits.tune_minutes),
                           key="job_budget")
        st.form_submit_button("Start", type="primary", disabled=busy, on_click=start)
    if busy:
        st.info("A job is running. Wait for it to finish, or stop it below, before starting another.")
    show_problem("start_problem")


def start() -> None:
    state = st.session_state
    stamp = time.strftime("%Y%m%d-%H%M%S")
    subset = None if state.job_subset >= 28709 else state.job_subset
    arch = state.job_arch
    with problem_kept("start_problem"):
        if state.job_mode == "Train":
            settings = dict(arch=arch, epochs=state.job_epochs, subset=subset,
                            augment=1.0 if state.job_augment else 0.0, batch_size=state.job_batch)
            job_runner().start("train", settings, registry.trained_dir() / f"{arch}-{stamp}.keras", browser_id())
        else:
            settings = dict(max_epochs=max(state.job_epochs, 2), subset=subset, arch=arch,
                            time_budget_s=state.job_budget * 60,
                            directory=str(registry.trained_dir() / "tuning"), project=f"hyperband-{stamp}")
            job_runner().start("tune", settings, registry.trained_dir() / f"tuned-{arch}-{stamp}.keras", browser_id())


def stop() -> None:
    job_runner().cancel(browser_id(), is_maintainer())
    st.toast("Stopping after the current batch...")


def job_panel(watching: bool) -> None:
    """The start form, then the running job's progress or the last job's report.

    Drawn as a fragment that reruns each second while a job runs, so the report and a free Start
    button appear as soon as the job ends, without waiting for a full rerun of the page."""
    job = job_runner().current
    snap = job.snapshot() if job else None
    running = snap is not None and snap["status"] == RUNNING
    if is_maintainer():
        start_form(busy=running)  # first: by the time the report shows, Start is already free again
    with st.container():  # one slot: the progress turns into the report in place
        if running:
            draw_progress(snap)
            if job_runner().may_stop(browser_id(), is_maintainer()):
                st.button("Stop", key=f"stop-{snap['id']}", on_click=stop)
        elif snap is not None:
            final_report(snap)
    if watching != running:
        st.rerun()  # a job began or ended: a full run starts or stops the timer (and lists a new model)


def draw_progress(snap: dict) -> None:
    st.progress(*progress_bar(snap))
    if snap["epochs"]:
        st.plotly_chart(charts.training_curves(snap["epochs"]), key=f"curves-{snap['id']}-{len(snap['epochs'])}")
        st.caption(WATCHING)
    if snap["kind"] == "tune":
        draw_trials(snap)


def progress_bar(snap: dict) -> tuple[float, str]:
    """How far the job is, and what it is doing, in words."""
    if snap["measuring"]:
        return 1.0, MEASURING
    fraction, seconds_left = progress(snap)
    eta = f", about {seconds_left / 60:.1f} min left" if seconds_left else ""
    label = {"train": "Training", "tune": "Tuning"}[snap["kind"]]
    batch = snap.get("batch") or {}
    detail = f"epoch {batch.get('epoch', 0) + 1}, batch {batch.get('batch', -1) + 1}" if batch else "preparing data"
    return min(fraction, 1.0), f"{label}: {detail}{eta}"


def draw_trials(snap: dict) -> None:
    finished = [t for t in snap["trials"] if t.get("score") is not None]
    if snap["current_trial"]:
        st.caption("Current trial: " + ", ".join(f"{k}={v}" for k, v in snap["current_trial"].items()
                                                 if not k.startswith("tuner/")))
    if finished:
        st.plotly_chart(charts.best_so_far(finished), key=f"best-{snap['id']}-{len(finished)}")
        st.dataframe([{k: v for k, v in t.items() if not k.startswith("tuner/")} for t in finished],
                     hide_index=True)


def final_report(snap: dict) -> None:
    if snap["status"] == "failed":
        st.error(f"The {snap['kind']} job failed: {plain_error(snap['error'])}")
        return
    summary = snap.get("summary") or {}
    if not summary.get("artifact"):
        st.info("The job stopped before anything could be saved.")
        return
    st.subheader("Result" + (" (stopped early)" if snap["status"] == "cancelled" else ""))
    for text in snap["messages"]:  # e.g. why a search stopped: its time budget
        st.caption(text)
    if snap["epochs"]:
        st.plotly_chart(charts.training_curves(snap["epochs"]))
        st.caption(WATCHING)
    if snap["kind"] == "tune" and snap["trials"]:
        draw_trials(snap | {"current_trial": None})
    public = summary["evaluation"]["public"]
    current = active_card_accuracy()
    cols = st.columns(3)
    cols[0].metric("PublicTest accuracy", f"{public['accuracy']:.1%}",
                   delta=f"{public['accuracy'] - current:+.1%} vs the model in use" if current is not None else None)
    cols[1].metric("Macro-F1", f"{public['macro_f1']:.3f}")
    cols[2].metric("Faces evaluated", public["n"])
    left, right = st.columns(2)
    left.plotly_chart(charts.per_class_bars(public, "Per-class results on PublicTest"))
    right.plotly_chart(charts.confusion_heatmap(public["confusion"], "Confusion on PublicTest"))
    use_model_buttons(Path(summary["artifact"]))


def active_card_accuracy() -> float | None:
    try:
        card = read_metadata(registry.active_model_path())
        return card["evaluation"]["public"]["accuracy"]
    except (FercoreError, KeyError):
        return None


def use_model_buttons(path: Path) -> None:
    if registry.active_model_path().resolve() == path.resolve():
        st.success("This model is the one the app uses now.")
        return
    if is_maintainer():  # cached predictors are keyed by path, so every page follows
        st.button("Use this model in the app", type="primary", on_click=registry.set_active_model, args=(path,))
    st.caption(f"Saved as {plain(path.name)}, among the trained models below. The shipped "
               f"`{registry.SHIPPED_MODEL.name}` stays as it is.")


def trained_models() -> None:
    rows = registry.list_models() + registry.list_models(registry.trained_dir())
    if not rows:
        return
    st.subheader("Trained models")
    active = registry.active_model_path().resolve()
    for row in rows:
        card = row["card"]
        title = plain(row["name"]) + ("  (in use)" if row["path"].resolve() == active else "")
        with st.expander(title):
            if row["error"]:
                st.warning(plain_error(row["error"]))
                continue
            ev = card.get("evaluation", {})
            cols = st.columns(3)
            for col, split in zip(cols, ("public", "private")):
                if split in ev:
                    col.metric(f"{split.capitalize()}Test accuracy", f"{ev[split]['accuracy']:.1%}",
                               help=f"macro-F1 {ev[split]['macro_f1']:.3f}")
            cols[2].metric("Architecture", card.get("arch", "?"))
            st.code(without_server_paths(card.get("training", {}).get("command", "")), language="bash")


missing_data = dataset_problem()
if missing_data:
    dataset_panel(missing_data, "Training learns from FER2013")
    trained_models()
    st.stop()
maintainer_unlock()
job = job_runner().current
watching = job is not None and job.status == RUNNING
st.fragment(job_panel, run_every=1.0 if watching else None)(watching)
trained_models()
