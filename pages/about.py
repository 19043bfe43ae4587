"""The active model's card: what it is, how well it does, and what it must not be used for."""
import streamlit as st

from fercore import registry
from fercore.artifact import read_metadata
from fercore.errors import ArtifactError
from fercore.reliability import confidence_sentence
from ui import charts
from fercore.store import StoreError, retention_days
from ui.resources import model_problem
from ui.text import plain

LIMITS = """
- **Noisy labels.** FER2013's labels come from one annotation pass; people agree with them only about
  65% of the time.
- **Small grayscale faces.** The model sees 48x48 grayscale pixels: no colour, little detail, no context.
- **Who is in the data.** FER2013 was gathered by web image search; its faces skew towards some ages and
  skin tones, and the model is likely less accurate for people who are under-represented.
- **Posed faces.** Many faces are posed or exaggerated; everyday, spontaneous expressions are subtler.
- **Not for decisions about people.** Do not use it for diagnosis, hiring, surveillance, grading, or to
  judge what a person feels inside: an expression is not an inner state.
"""
HEATMAP = """
The outlined, undimmed part of a face is where the model's reading depended most: hiding those pixels
lowers its score for that emotion more than hiding the rest. The sentence beside it comes from covering
the eyes and brows, the nose or the mouth and reading the face again. The map does not show what the
person feels or how people read faces, only what this model used; when the model is unsure, it shows
only the slightly stronger of its two readings.
"""
PRIVACY = """
- **Your photos** stay in memory for your browser session only, shrunk to screen size: nothing you upload
  is written to disk or logged.
- **The live mirror's video stays on your device.** Your face is found and read in your browser, with
  the model this app sends it; no frame goes to this server or anywhere else, and the camera stops when
  you press Stop or leave the page. Only when you hold a goal does its one still come to this server, to
  show where the model looked: it is kept in memory until you close the tab, never written or logged.
- **A partner on With someone is nobody's account.** Nothing of them is kept: their face is read in your
  browser, the picture at the moment you choose comes to this server only to show where the model
  looked and is gone when you close the tab, and only your answer is kept under your nickname (what they
  meant, what you chose, what the model read).
- **Your answers are yours.** They are kept on this server under your nickname, and only your nickname
  with your personal key opens them. No e-mail and no account: nothing else about you. The key is shown
  once; the server keeps only a fingerprint of it, so nobody can look it up.
- **In a class session**, your educator sees your nickname and your answers in that session, never your
  other practice. Other learners see nothing of yours, and nobody is ranked.
- **In a class** (one that lasts from week to week), you choose to join. From the day you join, its
  educator sees your nickname and the answers you give on your own and in the class's sessions, never
  those from before or from another educator's sessions, and may suggest what to practise next or print a
  one-page report of your practice to share with your family or school. Your Progress page lists your
  classes; leave one and its educator sees none of your answers any more.
- **Forget me.** On the Progress page, "Delete all my answers" deletes your nickname, your answers and your
  display choices, and takes you out of every class, at once and for good. An educator can delete a
  session with all its answers.
- **Practice decks** keep only face crops: a small colour picture of each face and the 48x48 grayscale
  copy the model reads, each with its emotion. Never the photo itself, its file name, or its EXIF or GPS
  data: the crops are made again from their pixels. Whoever has a deck's code can practise on its faces;
  only its owner token adds, relabels, removes, exports or deletes them. Adding faces asks the owner to
  confirm the permission of the people shown. Deleting a deck deletes its faces, for good, and the answers
  given on it outside class sessions; class sessions run on it keep their answers, without the faces.
- **Nothing is kept for ever.** Answers, sessions and decks older than {days} days are deleted on their own,
  and so is a class nobody has used for that long.
- **The model everyone uses** can only be changed by this server's maintainer, who also decides who trains.
"""

st.title("About the model")
path = registry.active_model_path()
try:
    card = read_metadata(path)
except ArtifactError as exc:
    model_problem(exc)
    card = None
if card:
    st.write(f"In use: **{plain(path.name)}**, a `{card.get('arch', '?')}` network with "
             f"{card.get('parameters', 0):,} parameters, trained on FER2013's Training split.")
    evaluation = card.get("evaluation", {})
    cols = st.columns(4)
    for i, split in enumerate(("private", "public")):
        if split in evaluation:
            cols[2 * i].metric(f"{split.capitalize()}Test accuracy", f"{evaluation[split]['accuracy']:.1%}")
            cols[2 * i + 1].metric(f"{split.capitalize()}Test macro-F1", f"{evaluation[split]['macro_f1']:.3f}")
    reading = (" As everywhere in the app, each face was read as it is and mirrored, and the two readings averaged."
               if evaluation.get("private", {}).get("tta") else "")
    st.caption("PrivateTest is the headline: the model was chosen on PublicTest and never tuned on PrivateTest."
               + reading)
    if "private" in evaluation:
        left, right = st.columns(2)
        left.plotly_chart(charts.per_class_bars(evaluation["private"], "Per emotion on PrivateTest"))
        right.plotly_chart(charts.confusion_heatmap(evaluation["private"]["confusion"], "Confusion on PrivateTest"))
    described = confidence_sentence(evaluation.get("private", {}))
    if described:  # a model recorded before fercore measured calibration shows nothing here
        st.subheader("Can you trust how sure it says it is?")
        st.plotly_chart(charts.reliability_diagram(evaluation["private"]["reliability"],
                                                   "How sure it said it was, and how often it was right (PrivateTest)"))
        st.write(described)
    command = card.get("training", {}).get("command")
    if command:
        st.caption("The command that trained it:")
        st.code(command, language=None, wrap_lines=True)  # plain and wrapped: readable, nothing to scroll
st.header("What the heatmap shows")
st.markdown(HEATMAP)
st.header("What it can't do")
st.markdown(LIMITS)
st.header("Privacy")
try:
    days = retention_days()
except StoreError:  # a mistyped FER_RETENTION_DAYS: the store refuses to open and says why
    days = "the set number of"
st.markdown(PRIVACY.format(days=days))
