"""Practice decks: an educator or a family makes a deck of faces from their own photos; learners practise
on it in the quiz by its code."""
import cv2
import streamlit as st

from fercore.decks import (DeckError, add_faces, export_deck, face_pictures, faces_of, import_deck, read_photos,
                           read_zip, skipped_summary)
from fercore.errors import FercoreError
from fercore.images import MAX_FILE_MB
from fercore.labels import EMOTIONS
from fercore.store import DECK_FACES_MAX, DECK_NAME_MAX
from ui.pictures import square_pictures
from ui.problems import problem_kept, show_problem
from ui.resources import deck_quiz_pool, store
from ui.text import plain, plain_error

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
PER_PAGE = 40  # faces shown at once: a page of 500 would take long to draw
PERMISSION = ("I have the permission of the people shown (or of their parents) to use their faces here. "
              "Only the face crops are kept, never the photos.")

st.title("Practice decks")
st.caption("A deck is a set of faces from your own photos, each with its emotion. Learners practise on it in the "
           "quiz by its code; only someone holding the owner token can change it.")


# --- making, opening and importing a deck ---------------------------------------------------------

def create_form() -> None:
    with st.form("create_deck"):
        st.text_input("Deck name", placeholder="e.g. Our family", max_chars=DECK_NAME_MAX, key="new_deck_name")
        st.form_submit_button("Make the deck", type="primary", on_click=create_deck)


def create_deck() -> None:
    """A callback: it runs before the next run whatever that run draws, so a press is never lost."""
    with problem_kept("deck_problem"):
        opened(*store().create_deck(st.session_state.new_deck_name))


def opened(deck, token: str) -> None:
    st.session_state.update(deck_code=deck.code, deck_token=token, pending=None,
                            deck_news=f"Deck **{plain(deck.name)}** is made. Learners open it in the quiz with the "
                                      f"code **{deck.code}**. Your owner token is **{token}**: write it down, it "
                                      "is shown only now and you need it to change or delete the deck. Add faces "
                                      "on the **Your deck** tab.")


def import_form() -> None:
    upload = st.file_uploader("A deck exported from fercore, or a zip of emotion folders", type=["zip"],
                              key="import_zip", max_upload_size=MAX_FILE_MB * 25)
    permission = st.checkbox(PERMISSION, key="import_permission")
    # The press is kept by its callback; the work, with its progress bar, is done by the run that follows.
    st.button("Import as a new deck", disabled=upload is None or not permission, on_click=st.session_state.update,
              kwargs={"to_import": True})
    if st.session_state.pop("to_import", False) and upload is not None:
        bar = st.progress(0.0, text="Reading the zip...")
        try:
            deck, token, skipped = import_deck(store(), upload.getvalue(), upload.name, permission, _progress(bar))
        except FercoreError as exc:
            bar.empty()
            st.warning(plain(exc))
            return
        bar.empty()
        opened(deck, token)
        if skipped:
            st.session_state["deck_news"] += " " + plain(skipped)
        st.rerun()


def said() -> None:
    show_problem("deck_problem")
    news = st.session_state.get("deck_news")
    if news:
        st.success(news)


def _progress(bar):
    return lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=plain(text))


# --- adding faces --------------------------------------------------------------------------------

def add_form(deck, token: str) -> None:
    st.subheader("Add faces")
    st.write(f"Give photos one by one, each with its emotion, or a zip with a folder per emotion (named "
             f"{', '.join(EMOTIONS)}), as FER2013's download is laid out. Up to {MAX_FILE_MB} MB a photo and "
             f"{DECK_FACES_MAX} faces a deck; a face seen from the front, well lit, works best.")
    photos_tab, zip_tab = st.tabs(["Photos", "A zip of emotion folders"])
    with photos_tab:
        uploads = st.file_uploader("Photos", type=PHOTO_TYPES, accept_multiple_files=True, key="photo_uploads",
                                   max_upload_size=MAX_FILE_MB)
        for i, upload in enumerate(uploads or []):
            st.selectbox(f"Emotion in {plain(upload.name)}", EMOTIONS, index=None, key=f"emotion-{i}-{upload.file_id}",
                         placeholder="Choose the emotion")
        st.button("Find the faces", key="read_photos", on_click=st.session_state.update, kwargs={"to_read": "photos"})
    with zip_tab:
        # Read as soon as it is dropped: every photo already has its emotion, from its folder.
        st.file_uploader("A zip of emotion folders", type=["zip"], key="zip_upload", max_upload_size=MAX_FILE_MB * 25,
                         on_change=st.session_state.update, kwargs={"to_read": "zip"})
    read_pending()
    review(deck, token)


def read_pending() -> None:
    """Find the faces once a button asked for it, with a progress bar; the photos themselves are not kept."""
    state = st.session_state
    kind = state.pop("to_read", None)
    if kind is None:
        return
    bar = st.progress(0.0, text="Finding faces...")
    try:
        if kind == "zip":
            upload = state.get("zip_upload")
            pending = read_zip(upload.getvalue(), upload.name, _progress(bar)) if upload is not None else None
        else:
            uploads = state.get("photo_uploads") or []
            emotions = [state.get(f"emotion-{i}-{u.file_id}") for i, u in enumerate(uploads)]
            if not uploads or None in emotions:
                raise DeckError("Choose photos and give each its emotion first.")
            pending = read_photos([(u.name, u.getvalue(), e) for u, e in zip(uploads, emotions)], _progress(bar))
    except FercoreError as exc:
        st.warning(plain(exc))
        pending = None
    bar.empty()
    state["pending"] = pending


def review(deck, token: str) -> None:
    """The faces found, a choice where a photo holds several, the reasons where one holds none."""
    pending = st.session_state.get("pending")
    if not pending:
        return
    skipped = skipped_summary(pending)
    if skipped:
        st.warning(plain(skipped))
    for i, photo in enumerate(pending):
        if photo.usable and len(photo.faces) > 1:
            st.image(photo.preview, width=480, caption=f"{plain(photo.name)}: {len(photo.faces)} faces, numbered",
                     alt=f"{photo.name} with {len(photo.faces)} faces boxed and numbered from 1.")
            st.radio(f"Which face in {plain(photo.name)} shows {EMOTIONS[photo.label]}?",
                     range(1, len(photo.faces) + 1), index=None, horizontal=True, key=f"which-{i}")
    ready = sum(photo.usable for photo in pending)
    permission = st.checkbox(PERMISSION, key="permission")
    st.button(f"Add the faces of {ready} photo(s) to {plain(deck.name)}", type="primary",
              disabled=not (ready and permission), on_click=add_pending, args=(deck.code, token))


def add_pending(code: str, token: str) -> None:
    state = st.session_state
    pending = state.get("pending") or []
    choices = {i: state[f"which-{i}"] - 1 for i in range(len(pending)) if state.get(f"which-{i}")}
    chosen = faces_of(pending, choices)
    waiting = sum(p.usable and len(p.faces) > 1 for p in pending) - len(choices)
    with problem_kept("deck_problem"):
        if waiting:
            raise DeckError(f"Choose the face in each photo of several faces first ({waiting} to choose).")
        added = add_faces(store(), code, token, chosen, bool(state.get("permission")))
        state.update(pending=None, deck_news=f"{added} face(s) added.")


# --- the deck's faces ---------------------------------------------------------------------------

def faces_grid(deck, token: str) -> None:
    st.subheader(f"{plain(deck.name)} ({deck.code}): {deck.faces} face(s)")
    faces = store().deck_faces(deck.code)
    if not faces:
        st.info("No faces yet: add some above.")
        return
    try:
        pool = deck_quiz_pool(deck)
    except FercoreError as exc:  # no model: the faces and labels still show
        st.caption(plain_error(exc))
        pool = None
    differ = [f for f in faces if pool and _reading(pool, deck, f) != f.label]
    st.write(f"The model reads {len(differ)} face(s) differently from their label: there a label may be wrong or "
             "a face unclear. The model is often wrong too (about a third of FER2013's faces).")
    only_differ = st.toggle("Show only the faces the model reads differently", key="only_differ")
    shown = differ if only_differ else faces
    pages = max(1, -(-len(shown) // PER_PAGE))
    page = st.number_input("Page", 1, pages, 1, key="faces_page") if pages > 1 else 1
    shown = shown[(page - 1) * PER_PAGE : page * PER_PAGE]
    colour, _ = face_pictures(shown)
    grid = square_pictures("deck-faces")
    for start in range(0, len(shown), 4):
        for col, face, picture in zip(grid.columns(4), shown[start : start + 4], colour[start : start + 4]):
            label = EMOTIONS[face.label]
            reading = EMOTIONS[_reading(pool, deck, face)] if pool else None
            words = f"labelled {label}" + (f", the model reads {reading}" if reading else "")
            col.image(cv2.resize(picture, (144, 144), interpolation=cv2.INTER_AREA), caption=words,
                      alt=f"A face of the deck, {words}.")
            if reading and reading != label:
                col.caption("⚠ Differs: check the label, or the face may be unclear.")
            col.selectbox("Label", EMOTIONS, index=face.label, key=f"label-{face.id}", on_change=relabel,
                          args=(deck.code, token, face.id))
            col.button("Remove", key=f"remove-{face.id}", on_click=remove, args=(deck.code, token, face.id))


def _reading(pool, deck, face) -> int:
    return int(pool.probabilities[pool.index[f"deck:{deck.code}:{face.id}"]].argmax())


def relabel(code: str, token: str, face_id: int) -> None:
    with problem_kept("deck_problem"):
        store().relabel_deck_face(code, token, face_id, EMOTIONS.index(st.session_state[f"label-{face_id}"]))


def remove(code: str, token: str, face_id: int) -> None:
    with problem_kept("deck_problem"):
        store().remove_deck_face(code, token, face_id)


def export_and_delete(deck, token: str) -> None:
    st.subheader("Move or delete the deck")
    st.download_button("Export the deck (zip)", export_deck(store(), deck.code, token),
                       file_name=f"deck-{deck.code}.zip", mime="application/zip",
                       help="A folder per emotion of the face crops: import it on another computer.")
    with st.expander("Delete this deck"):
        st.write("This deletes the deck and its faces for good, with the answers learners gave on it on their own. "
                 "Class sessions run on it, yours or other educators', keep their counts of answers but lose the "
                 "faces: their educators are told that you deleted the deck. Export it first if you want to keep it.")
        sure = st.checkbox("Yes, delete it for good", key="delete_sure")
        st.button("Delete the deck", disabled=not sure, on_click=delete, args=(deck.code, token))


def delete(code: str, token: str) -> None:
    with problem_kept("deck_problem"):
        faces = store().delete_deck(code, token)
        st.session_state.update(deck_code="", deck_token="", pending=None, delete_sure=False,
                                deck_news=f"Deck {code} and its {faces} face(s) are deleted.")


said()
make_tab, open_tab, import_tab = st.tabs(["Make a deck", "Your deck", "Import a deck"])
with make_tab:
    create_form()
with import_tab:
    import_form()
with open_tab:
    st.text_input("Deck code", key="deck_code")
    st.text_input("Owner token", key="deck_token", type="password")
    code, token = st.session_state.get("deck_code", ""), st.session_state.get("deck_token", "")
    if code and token:
        try:
            deck = store().owned_deck(code, token)
        except FercoreError as exc:
            st.warning(plain(exc))
            st.stop()
        add_form(deck, token)
        faces_grid(deck, token)
        export_and_delete(deck, token)
