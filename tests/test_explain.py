"""Heatmaps: right shape and range, per class, pointing where a model is known to look."""
import keras
import numpy as np
import pytest
from conftest import synthetic_faces

from fercore.explain import REGIONS, GradCam, describe, gradcam_for, overlay
from fercore.model import build_model, hyperparameters


@pytest.fixture(scope="module")
def bar_model():
    """The tiny seed model trained for a few seconds on faces whose class is a bright bar's height."""
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16))
    faces, labels = synthetic_faces(40)
    model.fit(faces[..., None].astype("float32"), keras.utils.to_categorical(labels, 7), epochs=8, batch_size=32,
              verbose=0)
    return model


@pytest.fixture(scope="module")
def bar_faces():
    return synthetic_faces(2, seed=1)


def test_heatmaps_are_48x48_in_0_1_and_differ_between_classes(bar_model, bar_faces):
    faces, labels = bar_faces
    cam = GradCam(bar_model)
    own, other = cam.heatmaps(faces, labels), cam.heatmaps(faces, (labels + 3) % 7)
    assert own.shape == (len(faces), 48, 48) and own.dtype == np.float32
    assert own.min() >= 0 and own.max() <= 1 and np.allclose(own.max(axis=(1, 2)), 1)
    assert np.abs(own - other).mean() > 0.1


def test_heatmap_peaks_at_the_bar_the_model_learned_to_read(bar_model, bar_faces):
    faces, labels = bar_faces
    assert (bar_model.predict(faces[..., None].astype("float32"), verbose=0).argmax(axis=1) == labels).all()
    maps = GradCam(bar_model).heatmaps(faces, labels)
    peak_rows = maps.mean(axis=2).argmax(axis=1)
    bar_rows = 6 + 6 * labels  # synthetic_faces draws rows 4+6k to 8+6k
    assert (np.abs(peak_rows - bar_rows) <= 5).all(), np.c_[labels, peak_rows]


def test_one_class_index_serves_all_faces_and_the_graph_is_traced_once(bar_model, bar_faces):
    faces, _ = bar_faces
    cam = GradCam(bar_model)
    np.testing.assert_allclose(cam.heatmaps(faces, 3), cam.heatmaps(faces, np.full(len(faces), 3)), atol=1e-6)
    cam.heatmaps(faces[:1], 0)
    assert cam._maps.experimental_get_tracing_count() == 1  # new batch sizes reuse the compiled graph
    assert cam.heatmaps(faces[:0], 0).shape == (0, 48, 48)


def test_the_model_keeps_its_softmax_and_the_explainer_is_shared(bar_model, bar_faces):
    faces, _ = bar_faces
    assert gradcam_for(bar_model) is gradcam_for(bar_model)
    probs = bar_model.predict(faces[..., None].astype("float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("image", [np.zeros((300, 200), np.uint8), np.zeros((90, 120, 3), np.uint8)])
def test_overlay_covers_any_image_size_with_hot_parts_brighter(image):
    heatmap = np.zeros((48, 48), np.float32)
    heatmap[:, :24] = 1  # hot left half
    out = overlay(image, heatmap, opacity=1.0)
    assert out.shape == (*image.shape[:2], 3) and out.dtype == np.uint8
    width = out.shape[1]
    assert out[:, : width // 3].mean() > out[:, -width // 3 :].mean() + 100  # cividis: dark blue to yellow
    np.testing.assert_array_equal(overlay(image, heatmap, opacity=0.0), np.zeros_like(out))


def test_overlay_refuses_an_opacity_outside_0_1():
    with pytest.raises(ValueError, match="opacity"):
        overlay(np.zeros((48, 48), np.uint8), np.zeros((48, 48)), opacity=1.5)


def hot_at(rows, cols) -> np.ndarray:
    heatmap = np.full((48, 48), 0.05, np.float32)
    heatmap[rows, cols] = 1
    return heatmap


@pytest.mark.parametrize("region", list(REGIONS))
def test_describe_names_the_region_that_is_hot(region):
    assert describe(hot_at(*REGIONS[region])) == f"The model looked mostly at {region}."


def test_describe_names_a_close_second_region():
    heatmap = hot_at(*REGIONS["the mouth"])
    heatmap[REGIONS["the eyes and brows"]] = 0.9
    assert describe(heatmap) == "The model looked mostly at the mouth, then the eyes and brows."


def test_describe_is_cautious_when_the_map_is_diffuse_empty_or_off_the_face():
    assert "spread" in describe(np.full((48, 48), 0.8, np.float32))
    assert "No part of the face" in describe(np.zeros((48, 48), np.float32))
    assert "away from the eyes, nose and mouth" in describe(hot_at(slice(0, 6), slice(0, 48)))
