"""The panel shown wherever FER2013 is missing: where to download it, and a file drop that imports it."""
from __future__ import annotations

import streamlit as st

from fercore.data import locate_source, resolve_data_path
from fercore.errors import DatasetError
from ui.text import first_sentence, plain, plain_error

KAGGLE_FOLDERS = "https://www.kaggle.com/datasets/msambare/fer2013"
KAGGLE_CSV = ("https://www.kaggle.com/competitions/"
              "challenges-in-representation-learning-facial-expression-recognition-challenge/data")
MAX_IMPORT_MB = 500  # the largest download, fer2013.csv, is about 300 MB; photos keep their own 20 MB limit


def dataset_problem() -> DatasetError | None:
    """None when FER2013 is where fercore looks, else what is wrong (a cheap check: nothing is decoded)."""
    try:
        locate_source()
    except DatasetError as exc:
        return exc
    return None


def dataset_panel(problem: DatasetError, purpose: str) -> None:
    """purpose: what the faces are for on this page, e.g. "The quiz shows faces from FER2013"."""
    with st.container(border=True):
        st.subheader("First, get the faces")
        st.write(f"{purpose}, a public set of 35,887 small face photos. It is not part of fercore: "
                 "download it once, then drop the file here.")
        st.markdown(f"1. Download it from Kaggle (a free account is needed): the "
                    f"[folder version]({KAGGLE_FOLDERS}) as `archive.zip`, or the competition's "
                    f"[fer2013.csv or fer2013.tar.gz]({KAGGLE_CSV}).\n"
                    "2. Drop the downloaded file below, as it is. fercore checks it and unpacks it.")
        upload = st.file_uploader("The downloaded FER2013 file (zip, tar.gz or csv)", type=["zip", "gz", "tgz", "csv"],
                                  max_upload_size=MAX_IMPORT_MB, key="fer2013_file")
        if upload is not None:
            import_upload(upload)
        st.caption(plain_error(f"fercore looks in {resolve_data_path()}. To use a copy elsewhere, set FER_DATA. "
                         f"Now: {first_sentence(problem)}"))


def import_upload(upload) -> None:
    from fercore.data_import import import_dataset

    bar = st.progress(0.0, text="Checking the file...")
    try:
        import_dataset(upload, resolve_data_path(), filename=upload.name,
                       progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=plain(text)))
    except DatasetError as exc:
        bar.empty()
        st.error(plain_error(f"That file can't be used: {first_sentence(exc)}"))
        return
    st.rerun()  # the page now finds the faces
