"""Heatmaps, part evidence and their words: right shape and range, pointing where a model is known
to look, naming the part that carries the reading, and a map that leaves the face readable."""
import cv2
import keras
import numpy as np
import pytest
from conftest import synthetic_faces

from fercore import explain
from fercore.explain import (PARTS, Explainer, PartEvidence, explain_face, explain_faces, explainer_for, heatmaps,
                             landmarks_in_crop, overlay, part_evidence, part_masks, say_evidence, unsure_reading)
from fercore.faces import _face
from fercore.model import build_model, hyperparameters


@pytest.fixture(scope="module")
def bar_model():
    """The tiny seed model trained for a few seconds on faces whose class is a bright bar's height
    (its settings pinned: these tests check where this model looks)."""
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16, learning_rate=1e-3))
    faces, labels = synthetic_faces(40)
    model.fit(faces[..., None].astype("float32"), keras.utils.to_categorical(labels, 7), epochs=8, batch_size=32,
              verbose=0)
    return model


@pytest.fixture(scope="module")
def bar_faces():
    return synthetic_faces(2, seed=1)


def bar_rows(label: int) -> slice:
    return slice(4 + 6 * label, 8 + 6 * label)  # as synthetic_faces draws it


def test_heatmaps_are_48x48_in_0_1_and_differ_between_classes(bar_model, bar_faces):
    faces, labels = bar_faces
    own, other = heatmaps(bar_model, faces, labels), heatmaps(bar_model, faces, (labels + 3) % 7)
    assert own.shape == (len(faces), 48, 48) and own.dtype == np.float32
    assert own.min() >= 0 and own.max() <= 1 and np.allclose(own.max(axis=(1, 2)), 1)
    assert np.abs(own - other).mean() > 0.1


def test_heatmap_peaks_at_the_bar_the_model_learned_to_read(bar_model, bar_faces):
    faces, labels = bar_faces
    assert (bar_model.predict(faces[..., None].astype("float32"), verbose=0).argmax(axis=1) == labels).all()
    maps = heatmaps(bar_model, faces, labels)
    peak_rows = maps.mean(axis=2).argmax(axis=1)
    assert (np.abs(peak_rows - (6 + 6 * labels)) <= 5).all(), np.c_[labels, peak_rows]


def test_one_class_index_serves_all_faces_and_the_graph_is_traced_once(bar_model, bar_faces):
    faces, _ = bar_faces
    maker = Explainer(bar_model)
    np.testing.assert_allclose(maker.heatmaps(faces, 3), maker.heatmaps(faces, np.full(len(faces), 3)), atol=1e-6)
    maker.heatmaps(faces[:1], 0)
    assert maker._maps.experimental_get_tracing_count() == 1  # new batch sizes reuse the graph
    assert maker.heatmaps(faces[:0], 0).shape == (0, 48, 48)


def test_many_faces_are_mapped_in_chunks_with_the_same_result(bar_model, bar_faces, monkeypatch):
    faces, labels = bar_faces
    whole = heatmaps(bar_model, faces, labels)
    monkeypatch.setattr(explain, "CHUNK", 4)  # 14 faces: chunks of 4, 4, 4 and 2
    np.testing.assert_allclose(heatmaps(bar_model, faces, labels), whole, atol=1e-4)  # float32 sums differ by batch


def test_the_explainer_is_shared_and_the_model_keeps_its_softmax(bar_model, bar_faces):
    faces, _ = bar_faces
    assert explainer_for(bar_model) is explainer_for(bar_model)
    np.testing.assert_allclose(explainer_for(bar_model).heatmaps(faces, 2), heatmaps(bar_model, faces, 2), atol=1e-6)
    probs = bar_model.predict(faces[..., None].astype("float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_the_map_moves_with_the_face_content(bar_model, bar_faces):
    """The class-2 bar kept on the left half only, then on the right half only: the heat follows it."""
    faces, labels = bar_faces
    face = faces[labels == 2][0]
    left, right = face.copy(), face.copy()
    left[16:20, 24:42] = face[24:28, 24:42]  # background noise in place of the bar's right half
    right[16:20, 6:24] = face[24:28, 6:24]
    maps = heatmaps(bar_model, np.stack([left, right]), 2)
    assert maps[0][:, :24].mean() > maps[0][:, 24:].mean() and maps[1][:, 24:].mean() > maps[1][:, :24].mean()


def test_covering_the_part_over_the_bar_lowers_the_class_most(bar_model, bar_faces):
    """The bar of class 5 lies at rows 34-37, where FER2013 faces have their mouths; landmarks that
    put a (strange) face's mouth over the bar of class 1 (rows 10-13) make the mouth carry that one."""
    faces, labels = bar_faces
    evidence = part_evidence(bar_model, faces[labels == 5][0], 5)
    assert [e.part for e in evidence] == list(PARTS)
    assert max(evidence, key=lambda e: e.drop).part == "the mouth", evidence
    assert evidence[0].before == pytest.approx(evidence[2].before) and evidence[2].drop > 0

    mouth_up_high = [(14, 2), (34, 2), (24, 6), (10, 11), (38, 11)]
    assert part_masks(mouth_up_high)["the mouth"][bar_rows(1), 10:38].all()
    face = faces[labels == 1][0]
    assert max(part_evidence(bar_model, face, 1), key=lambda e: e.drop).part != "the mouth"
    evidence = part_evidence(bar_model, face, 1, landmarks=mouth_up_high)
    assert max(evidence, key=lambda e: e.drop).part == "the mouth", evidence


def test_evidence_reads_faces_with_their_mirror_as_the_app_does(bar_model, bar_faces):
    faces, labels = bar_faces
    face = faces[labels == 5][0]
    both = np.stack([face, face[:, ::-1]])[..., None].astype("float32")
    mirrored = bar_model.predict(both, verbose=0)[:, 5].mean()
    assert part_evidence(bar_model, face, 5)[0].before == pytest.approx(mirrored, abs=1e-5)


def test_part_masks_sit_where_fer2013_faces_have_them_and_follow_landmarks():
    masks = part_masks()
    centre_row = {name: np.argwhere(mask)[:, 0].mean() for name, mask in masks.items()}
    assert centre_row["the eyes and brows"] < centre_row["the nose"] < centre_row["the mouth"]
    assert masks["the eyes and brows"][18, 14] and masks["the eyes and brows"][18, 33]  # both eyes
    assert masks["the mouth"][36, 24] and masks["the nose"][26, 24]
    assert not (masks["the eyes and brows"] & masks["the nose"]).any()
    lowered = part_masks(explain.FER_LANDMARKS + (0, 6))
    assert lowered["the mouth"][42, 24] and not masks["the mouth"][44, 24]


def test_landmarks_follow_the_crop_of_a_tilted_face():
    """Bright dots drawn at five points of a photo land in the crop where landmarks_in_crop says."""
    photo = np.zeros((400, 400), np.uint8)
    points = np.array([(175, 185), (215, 195), (197, 210), (183, 228), (213, 235)], float)  # leaning 14 degrees
    for x, y in points.astype(int):
        cv2.circle(photo, (x, y), 3, 255, -1)
    face = _face(photo, np.r_[150, 150, 100, 100, points.ravel(), 0.9])
    found = landmarks_in_crop(face)
    assert face.tilt != 0 and found.shape == (5, 2) and (found > 2).all() and (found < 45).all()
    for x, y in found:
        near = face.crop[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2]
        assert near.max() > 100, (x, y)
    assert landmarks_in_crop(face.__class__(face.box, face.crop)) is None


EVIDENCE = [PartEvidence("the eyes and brows", 0.93, 0.80), PartEvidence("the nose", 0.93, 0.90),
            PartEvidence("the mouth", 0.93, 0.21)]


def test_the_sentence_names_the_biggest_drop_first_with_its_numbers():
    assert say_evidence(EVIDENCE, "happy") == ("Covering the mouth drops happy from 93% to 21%. "
                                                "Covering the eyes and brows drops it to 80%.")
    one = [EVIDENCE[1], PartEvidence("the eyes and brows", 0.5, 0.2), PartEvidence("the mouth", 0.5, 0.45)]
    assert say_evidence(one, "sad") == "Covering the eyes and brows drops sad from 50% to 20%."
    assert say_evidence([PartEvidence("the mouth", 0.995, 0.001)], "happy").endswith("from 100% to under 1%.")


def test_the_sentence_is_cautious_when_no_part_matters():
    small = [PartEvidence("the eyes and brows", 0.6, 0.55), PartEvidence("the nose", 0.6, 0.538),
             PartEvidence("the mouth", 0.6, 0.7)]
    assert say_evidence(small, "fear") == ("No single part decides it: covering any one part lowers fear by "
                                           "less than 7 points.")
    raised = [PartEvidence(part, 0.4, 0.5) for part in PARTS]
    assert "less than 1 point." in say_evidence(raised, "fear")


@pytest.mark.parametrize("probabilities, words", [
    ([0.05, 0.0, 0.35, 0.05, 0.41, 0.04, 0.10],
     "The model is unsure: 41% sad, 35% fear. The map shows sad, its slightly stronger reading."),
    ([0.0, 0.0, 0.0, 0.50, 0.0, 0.0, 0.50],
     "The model is unsure: 50% neutral, 50% happy. The map shows neutral, its slightly stronger reading."),
    ([0.05, 0.0, 0.25, 0.05, 0.45, 0.10, 0.10], None),
    ([0.01, 0.0, 0.01, 0.93, 0.02, 0.02, 0.01], None),
])
def test_unsure_only_when_the_top_two_are_close(probabilities, words):
    assert unsure_reading(probabilities) == words


def test_the_sentence_reports_the_drop_measured_by_covering_the_part(bar_model, bar_faces):
    """A faint class-5 bar where FER2013 faces have their mouths, so the model is not sure of it
    (about 85%); re-read by hand with the mouth blurred, each image with its mirror."""
    faces, labels = bar_faces
    face = faces[labels == 5][0].astype(np.float32)
    face[bar_rows(5), 6:42] = 120
    probs = bar_model.predict(face[None, ..., None], verbose=0)[0]
    result = explain_face(bar_model, face, probs)
    hidden = np.where(part_masks()["the mouth"], cv2.GaussianBlur(face, (0, 0), explain.COVER_SIGMA), face)
    both = np.stack([face, face[:, ::-1], hidden, hidden[:, ::-1]])[..., None]
    p = bar_model.predict(both, verbose=0)[:, 5]
    before, after = explain.percent(p[:2].mean()), explain.percent(p[2:].mean())
    assert result.words.startswith(f"Covering the mouth drops surprise from {before} to {after}."), result.words
    assert p[:2].mean() - p[2:].mean() > explain.MATTERS


def test_explain_puts_the_unsure_sentence_first_and_explains_the_top_class(bar_model, bar_faces):
    faces, labels = bar_faces
    face = faces[labels == 5][0]
    close = np.array([0.0, 0.0, 0.0, 0.0, 0.36, 0.40, 0.24])
    result = explain_face(bar_model, face, close)
    assert result.class_index == 5 and result.heatmap.shape == (48, 48)
    assert result.sentences[0].startswith("The model is unsure: 40% surprise, 36% sad.")
    assert result.sentences[1] == say_evidence(result.evidence, "surprise")
    assert len(explain_face(bar_model, face, np.eye(7)[5]).sentences) == 1


def test_faces_without_known_parts_get_a_map_but_no_part_sentence(bar_model, bar_faces):
    faces, labels = bar_faces
    chosen = faces[labels == 5][:1]
    result, = explain_faces(bar_model, chosen, np.eye(7)[[5]], [False])
    assert result.heatmap.max() == pytest.approx(1) and result.evidence == [] and result.words == ""


def textured(shape) -> np.ndarray:
    """A face-like test card: stripes of many grey levels, so dimming and structure can be told apart."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    gray = (60 + 120 * (0.5 + 0.5 * np.sin(cols / 3.0)) * (0.6 + 0.4 * np.cos(rows / 7.0))).astype(np.uint8)
    return gray if len(shape) == 2 else np.stack([gray, gray // 2 + 40, 255 - gray], axis=-1)


@pytest.mark.parametrize("shape", [(300, 200), (90, 120, 3), (48, 48)])
def test_overlay_keeps_the_face_readable_and_outlines_the_hot_area(shape):
    image = textured(shape)
    heatmap = np.zeros((48, 48), np.float32)
    heatmap[8:24, 8:24] = 1  # hot top-left square
    out = overlay(image, heatmap, opacity=0.6)
    assert out.shape == (*image.shape[:2], 3) and out.dtype == np.uint8
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image
    h, w = shape[:2]
    far = (slice(h * 3 // 4, h), slice(w * 3 // 4, w))  # well away from the hot square
    kept = np.corrcoef(out[far].astype(float).ravel(), rgb[far].astype(float).ravel())[0, 1]
    assert kept > 0.99  # the stripes are all still there...
    assert 0.4 < out[far].mean() / rgb[far].mean() < 0.9  # ...only dimmer
    inside = (slice(h * 12 // 48, h * 20 // 48), slice(w * 12 // 48, w * 20 // 48))
    assert np.abs(out[inside].astype(int) - rgb[inside]).mean() < 25  # the hot part at full brightness
    edge = (slice(h * 5 // 48, h * 27 // 48), slice(w * 5 // 48, w * 27 // 48))
    white = (out[edge] >= 250).all(axis=-1) & ~(rgb[edge] >= 250).all(axis=-1)
    dark = (out[edge] <= 30).all(axis=-1) & ~(rgb[edge] <= 30).all(axis=-1)
    assert white.sum() > h // 8 and dark.sum() > h // 8  # a white line on a dark one around it
    assert not (out[far] >= 250).all(axis=-1).any()  # and nothing drawn far from it


def test_overlay_at_opacity_0_is_the_image_and_outside_0_1_is_refused():
    image = textured((60, 80, 3))
    heatmap = np.ones((48, 48), np.float32)
    np.testing.assert_array_equal(overlay(image, heatmap, opacity=0.0), image)
    np.testing.assert_array_equal(overlay(image[..., 0], heatmap, 0.0), cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2RGB))
    with pytest.raises(ValueError, match="opacity"):
        overlay(np.zeros((48, 48), np.uint8), np.zeros((48, 48)), opacity=1.5)
