"""The app's model exported to ONNX reads faces as the Keras model does (onnxruntime on this machine;
onnxruntime-web in a learner's browser runs the same file)."""
import os
import shutil
import time

import cv2
import keras
import numpy as np
import onnxruntime
import pytest

from fercore.artifact import file_digest, load_artifact, metadata_path, save_artifact
from fercore.cli import main
from fercore.data import load_fer2013, resolve_data_path
from fercore.errors import ArtifactError
from fercore.labels import EMOTIONS
from fercore.model import build_model, hyperparameters
from fercore.faces import DETECTOR_FILE
from fercore.onnx_export import detector_for_reader, export_onnx, exported_digest
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL


def faces_to_read(n: int) -> np.ndarray:
    """(n, 48, 48) uint8: PublicTest faces when FER_DATA names FER2013, else generated ones (smooth shapes
    of every brightness, so that the model gives mixed readings rather than one sure one)."""
    if os.environ.get("FER_DATA") and resolve_data_path().exists():
        return load_fer2013(splits=("public",))["public"].sample(n).images
    rng = np.random.default_rng(0)
    faces = []
    for i in range(n):
        noise = cv2.GaussianBlur(rng.random((48, 48), dtype=np.float32), (0, 0), sigmaX=1 + i % 6)
        faces.append(cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX))
    return np.rint(faces).astype(np.uint8)


def onnx_read(session, faces: np.ndarray) -> np.ndarray:
    return session.run(["probabilities"], {"faces": faces.astype(np.float32).reshape(-1, 48, 48, 1)})[0]


@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory):
    started = time.perf_counter()
    result = export_onnx(SHIPPED_MODEL, tmp_path_factory.mktemp("onnx") / "default.onnx")
    print(f"\nexported {SHIPPED_MODEL.name} in {time.perf_counter() - started:.1f} s (TensorFlow already loaded "
          f"by the imports); ONNX file {result.path.stat().st_size / 1e6:.2f} MB")
    return result


def test_onnx_file_reads_faces_as_the_keras_model_does(shipped_export):
    assert not shipped_export.cached and shipped_export.model_digest == file_digest(SHIPPED_MODEL)
    session = onnxruntime.InferenceSession(shipped_export.path, providers=["CPUExecutionProvider"])
    (face_input,), (output,) = session.get_inputs(), session.get_outputs()
    assert (face_input.name, face_input.shape, face_input.type) == ("faces", ["batch", 48, 48, 1], "tensor(float)")
    assert (output.name, output.shape) == ("probabilities", ["batch", len(EMOTIONS)])

    faces = faces_to_read(64)
    model = load_artifact(SHIPPED_MODEL).model
    keras_read = model(faces.astype(np.float32)[..., None], training=False).numpy()
    batch = onnx_read(session, faces)
    one_by_one = np.concatenate([onnx_read(session, face[None]) for face in faces[:8]])
    assert batch.shape == (64, len(EMOTIONS)) and one_by_one.shape == (8, len(EMOTIONS))
    # the app's reading: each face averaged with its mirror image
    mirrored = (batch + onnx_read(session, faces[:, :, ::-1])) / 2
    app_read = Predictor(model).probabilities(faces)

    differences = {"batch of 64": np.abs(batch - keras_read).max(),
                   "batch of 1": np.abs(one_by_one - keras_read[:8]).max(),
                   "with mirror images, as the app reads": np.abs(mirrored - app_read).max()}
    print("max abs difference from Keras: " + ", ".join(f"{k} {v:.2e}" for k, v in differences.items()))
    assert all(difference < 1e-4 for difference in differences.values()), differences
    assert len(set(batch.argmax(axis=1))) > 1, "every face read as one emotion: the comparison shows little"


def test_export_is_kept_while_the_model_file_is_the_same_and_redone_when_it_changes(tmp_path):
    model_path, out = tmp_path / "tiny.keras", tmp_path / "exports" / "tiny.onnx"
    keras.utils.set_random_seed(0)
    save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), model_path, {"arch": "seed"})
    first = export_onnx(model_path, out)
    written = out.stat().st_mtime_ns
    again = export_onnx(model_path, out)
    assert not first.cached and again.cached and out.stat().st_mtime_ns == written
    assert exported_digest(out) == file_digest(model_path)

    keras.utils.set_random_seed(1)  # a model trained afresh at the same path: exported again, read as the new one
    retrained = build_model(hyperparameters("seed", filters=8, dense_units=16))
    faces = faces_to_read(32)
    retrained.fit(faces[..., None].astype(np.float32), keras.utils.to_categorical(np.arange(32) % len(EMOTIONS)),
                  epochs=1, verbose=0)
    save_artifact(retrained, model_path, {"arch": "seed"})
    third = export_onnx(model_path, out)
    assert not third.cached and third.model_digest != first.model_digest == again.model_digest
    faces = faces[:4].astype(np.float32)
    session = onnxruntime.InferenceSession(out, providers=["CPUExecutionProvider"])
    assert np.abs(onnx_read(session, faces) - retrained(faces[..., None], training=False).numpy()).max() < 1e-4
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.onnx"]  # no scratch left beside it


def test_export_of_a_broken_model_file_is_one_sentence(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    shutil.copy(metadata_path(SHIPPED_MODEL), metadata_path(broken))
    out = tmp_path / "broken.onnx"
    with pytest.raises(ArtifactError) as raised:
        export_onnx(broken, out)
    message = str(raised.value)
    assert "\n" not in message and message.endswith(".") and "could not be loaded" in message
    assert not out.exists() and not any(p.name.startswith(".onnx-export") for p in tmp_path.iterdir())


def test_cli_exports_and_reports_a_broken_model_in_one_line(shipped_export, tmp_path, capsys):
    assert main(["export-onnx", "--model", str(SHIPPED_MODEL), "--out", str(shipped_export.path)]) == 0
    assert "already the export of" in capsys.readouterr().out  # the module's export, kept

    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model")
    shutil.copy(metadata_path(SHIPPED_MODEL), metadata_path(broken))
    assert main(["export-onnx", "--model", str(broken), "--out", str(tmp_path / "out.onnx")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error


def test_the_face_detector_reads_one_gray_channel_at_any_size_a_multiple_of_32_in_onnxruntime():
    """YuNet's file declares 640x640 and three channels; the browser's reader feeds it each gray view padded
    to a multiple of 32, as OpenCV does, in one channel: it finds what the shipped file finds in the gray
    picture given in all three."""
    session = onnxruntime.InferenceSession(detector_for_reader(DETECTOR_FILE), providers=["CPUExecutionProvider"])
    shipped = onnxruntime.InferenceSession(str(DETECTOR_FILE), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):  # the file as shipped refuses any other size
        shipped.run(None, {"input": np.zeros((1, 3, 384, 448), np.float32)})
    outputs = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {"input": np.zeros((1, 1, 384, 448), np.float32)})))
    for stride in (8, 16, 32):
        assert outputs[f"cls_{stride}"].shape == (1, 384 // stride * 448 // stride, 1)
        assert outputs[f"kps_{stride}"].shape == (1, 384 // stride * 448 // stride, 10)
    gray = cv2.resize(faces_to_read(1)[0], (640, 640)).astype(np.float32)[None, None]
    one, three = session.run(None, {"input": gray}), shipped.run(None, {"input": np.repeat(gray, 3, axis=1)})
    assert all(np.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in zip(one, three))