"""A fercore model as an ONNX file, for reading faces outside TensorFlow (onnxruntime, onnxruntime-web).

The ONNX file takes what the Keras model takes: float32 faces of shape (batch, 48, 48, 1), raw pixel
values 0-255 (the model rescales to 0-1 itself), any batch size; it gives (batch, 7) probabilities in
fercore's class order. It reads each face once: the app's reading averages a face with its mirror image
(fercore.predict), which a caller does by reading both and averaging, as Predictor does.

An export is kept and reused while the model file's bytes are the same: the file records the model's
digest (fercore.artifact.file_digest) in its metadata, so the app can export whichever model is active
and export again only when that model changes.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from fercore.artifact import INPUT_SPEC, OUTPUT_LAYER, file_digest, load_artifact
from fercore.errors import ArtifactError, FercoreError
from fercore.labels import EMOTIONS, FACE_SIZE

# tf2onnx 1.17's default opset, named so that an upgrade does not change the file; onnxruntime-web reads it.
OPSET = 15
INPUT_NAME = "faces"
OUTPUT_NAME = OUTPUT_LAYER  # "probabilities"
BATCH_DIM = "batch"
DIGEST_KEY = "fercore.model_digest"


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    model_digest: str
    cached: bool  # True: the file was already the export of this very model file, nothing was done
    seconds: float


def export_onnx(model_path: str | os.PathLike, out_path: str | os.PathLike) -> OnnxExport:
    """Write the model at model_path as ONNX to out_path, unless out_path already holds the export of a
    model file with the same bytes. A missing, damaged or mismatched model raises ArtifactError."""
    started = time.perf_counter()
    model_path, out_path = Path(model_path), Path(out_path)
    digest = file_digest(model_path)
    if exported_digest(out_path) == digest:
        return OnnxExport(out_path, digest, True, time.perf_counter() - started)
    try:
        import onnx
        import tf2onnx  # noqa: F401  (Keras' ONNX export with the TensorFlow backend)
    except ImportError:
        raise FercoreError("Exporting to ONNX needs the onnx and tf2onnx packages: "
                           "pip install -r requirements.txt.") from None
    import keras

    artifact = load_artifact(model_path)
    spec = keras.InputSpec(shape=(None, FACE_SIZE, FACE_SIZE, 1), dtype="float32", name=INPUT_NAME)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".onnx-export-") as scratch:
        raw = Path(scratch) / "raw.onnx"
        try:
            with warnings.catch_warnings():
                # Keras sets np.object for tf2onnx on numpy 2; numpy warns when Keras first looks for it
                warnings.filterwarnings("ignore", message=r".*np\.object", category=FutureWarning)
                artifact.model.export(str(raw), format="onnx", input_signature=[spec], opset_version=OPSET,
                                      verbose=False)
            graph = onnx.load(str(raw))
            _name_and_label(graph, artifact.metadata, digest)
            onnx.checker.check_model(graph)
        except Exception as exc:  # tf2onnx and onnx raise many types for a graph they cannot take
            raise ArtifactError(f"{model_path} could not be exported to ONNX ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:200] if str(exc) else 'no message'}).") from None
        finished = Path(scratch) / "finished.onnx"
        onnx.save(graph, str(finished))
        os.replace(finished, out_path)  # whole or not at all, for a reader in another session
    return OnnxExport(out_path, digest, False, time.perf_counter() - started)


def exported_digest(onnx_path: str | os.PathLike) -> str | None:
    """The digest of the model file an ONNX file was exported from; None when it is missing or unreadable."""
    try:
        import onnx

        graph = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # missing, half-written by a crash, or onnx not installed: export again
        return None
    return next((prop.value for prop in graph.metadata_props if prop.key == DIGEST_KEY), None)


def _name_and_label(graph, metadata: dict, digest: str) -> None:
    """Plain names for a reader in JavaScript (faces -> probabilities, a batch dimension called batch),
    and what the file is: fercore's class order, its input, the model it came from."""
    (face_input,), (output,) = graph.graph.input, graph.graph.output
    if face_input.name != INPUT_NAME:
        raise ValueError(f"the exported input is called {face_input.name}, not {INPUT_NAME}")
    old_output = output.name
    for node in graph.graph.node:
        node.output[:] = [OUTPUT_NAME if name == old_output else name for name in node.output]
    output.name = OUTPUT_NAME
    for value in (face_input, output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    graph.doc_string = (f"fercore model {metadata.get('name', '?')}: faces (batch, {FACE_SIZE}, {FACE_SIZE}, 1) "
                        f"float32, {INPUT_SPEC['values']} -> probabilities (batch, {len(EMOTIONS)}) in the order "
                        f"{', '.join(EMOTIONS)}")
    labels = {DIGEST_KEY: digest, "fercore.model_name": str(metadata.get("name", "")),
              "fercore.classes": json.dumps(list(EMOTIONS)), "fercore.input": json.dumps(INPUT_SPEC)}
    del graph.metadata_props[:]
    for key, value in labels.items():
        graph.metadata_props.add(key=key, value=value)


def export_into(model_path: str | os.PathLike, folder: str | os.PathLike) -> OnnxExport:
    """The model's export in `folder`, named by the model file's digest (exported once per model version)."""
    digest = file_digest(model_path)
    return export_onnx(model_path, Path(folder) / f"{digest}.onnx")


def detector_for_reader(detector_path: str | os.PathLike) -> bytes:
    """YuNet's ONNX file as the browser's reader runs it:
    - its input's height and width left open. The file declares 640x640, which onnxruntime enforces;
      OpenCV ignores it and feeds each view padded to a multiple of 32, and so can the reader: the graph's
      reshapes and resizes take any such size;
    - one gray channel in, not three. OpenCV is fed the gray picture in all three channels, so the first
      convolution's weights summed over them read it alike, with a third of that layer's work (in
      onnxruntime-web a pass over a 288x288 window took a fifth less time, 448x384 a tenth)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(detector_path))
    (face_input,) = graph.graph.input
    dims = face_input.type.tensor_type.shape.dim
    dims[1].dim_value = 1
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    (first,) = [node for node in graph.graph.node if face_input.name in node.input]
    (weights,) = [t for t in graph.graph.initializer if t.name == first.input[1]]
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights).sum(axis=1, keepdims=True), weights.name))
    del graph.graph.value_info[:]  # the 640x640 shapes inferred inside; onnxruntime infers them again
    return graph.SerializeToString()
