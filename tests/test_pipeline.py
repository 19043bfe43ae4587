"""Training batches: every face once per epoch, a new order each epoch, labels kept with their faces,
and the same batches again from the same seed (what --resume relies on)."""
import itertools

import numpy as np

from fercore.data import Split
from fercore.pipeline import FaceBatches, fit_input


def labelled_faces(n: int = 20) -> Split:
    """Face i is filled with the value 10 * i, so a batch shows which faces it holds."""
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None] * 10, 48 * 48).reshape(n, 48, 48)
    return Split("train", images, np.arange(n) % 7, np.array([f"Training_{i}" for i in range(n)]))


def epochs_of(stream, steps: int, epochs: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    batches = iter(stream)
    return [tuple(np.concatenate(part) for part in zip(*itertools.islice(batches, steps))) for _ in range(epochs)]


def test_each_epoch_shows_every_face_once_in_a_new_order_with_its_label():
    split = labelled_faces()
    batches = FaceBatches(split, batch_size=8, shuffle=True)
    (x1, y1), (x2, _) = epochs_of(batches, len(batches))
    faces1, faces2 = x1[:, 0, 0, 0].astype(int) // 10, x2[:, 0, 0, 0].astype(int) // 10
    assert x1.shape == (20, 48, 48, 1) and x1.dtype == np.float32 and len(batches) == 3
    assert sorted(faces1) == list(range(20)) and sorted(faces2) == list(range(20))
    assert list(faces1) != list(faces2) and list(faces1) != list(range(20))
    np.testing.assert_array_equal(y1.argmax(axis=1), split.labels[faces1])


def test_augmented_batches_repeat_from_the_seed_and_a_resumed_run_continues_them():
    split = Split("train", np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8),
                  np.arange(16) % 7, np.array([str(i) for i in range(16)]))
    first = FaceBatches(split, batch_size=8, shuffle=True, augment=1.0, seed=3)
    resumed = FaceBatches(split, batch_size=8, shuffle=True, augment=1.0, seed=3, first_epoch=2)
    other_seed = FaceBatches(split, batch_size=8, shuffle=True, augment=1.0, seed=4, first_epoch=2)
    np.testing.assert_array_equal(first[2 * len(first) + 1][0], resumed[1][0])  # epoch 2, batch 1
    assert not np.array_equal(resumed[1][0], other_seed[1][0])


def test_what_fit_reads_is_the_same_stream_of_epochs():
    split = labelled_faces()
    batches = FaceBatches(split, batch_size=8, shuffle=True, augment=1.0, seed=5)
    read = epochs_of(fit_input(batches).as_numpy_iterator(), len(batches), epochs=3)
    for (faces, labels), (expected_faces, expected_labels) in zip(read, epochs_of(batches, len(batches), 3)):
        np.testing.assert_array_equal(faces, expected_faces)
        np.testing.assert_array_equal(labels, expected_labels)


def test_augmentation_changes_the_pixels_but_not_the_labels_or_the_range():
    split = Split("train", np.random.default_rng(1).integers(0, 256, (32, 48, 48), dtype=np.uint8),
                  np.arange(32) % 7, np.array([str(i) for i in range(32)]))
    plain_x, plain_y = FaceBatches(split, batch_size=32)[0]
    augmented_x, augmented_y = FaceBatches(split, batch_size=32, augment=1.0)[0]
    np.testing.assert_array_equal(plain_y, augmented_y)
    changed = np.abs(augmented_x - plain_x).mean(axis=(1, 2, 3)) > 1
    assert changed.mean() > 0.9 and augmented_x.min() >= 0 and augmented_x.max() <= 255


def mixed_batch(**mixing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A training batch of seven faces, each its own emotion (face i has label i), mixed by `mixing`;
    and which face each row was before mixing."""
    split = labelled_faces(7)
    plain_x, _ = FaceBatches(split, batch_size=7, shuffle=True, seed=2)[0]
    x, y = FaceBatches(split, batch_size=7, shuffle=True, seed=2, **mixing)[0]
    return x, y, plain_x[:, 0, 0, 0].astype(int) // 10


def partners(y: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The face each row was mixed with: the other label in its target (its own when mixed with itself)."""
    other = y.copy()
    other[np.arange(len(faces)), faces] = -1
    return np.where(other.max(axis=1) > 0, other.argmax(axis=1), faces)


def test_mixup_blends_each_face_with_another_and_its_label_by_the_same_share():
    x, y, faces = mixed_batch(mixup=0.4)
    own, partner = y[np.arange(7), faces], partners(y, faces)
    np.testing.assert_allclose(y.sum(axis=1), 1, atol=1e-6)
    assert (partner != faces).sum() >= 5 and 0 < own.min() < 1
    expected = own * 10 * faces + (1 - own) * 10 * partner
    np.testing.assert_allclose(x[..., 0], np.broadcast_to(expected[:, None, None], (7, 48, 48)), atol=1e-3)


def test_cutmix_pastes_part_of_another_face_and_labels_it_by_area():
    x, y, faces = mixed_batch(cutmix=1.0)
    own, partner = y[np.arange(7), faces], partners(y, faces)
    np.testing.assert_allclose(y.sum(axis=1), 1, atol=1e-6)
    pasted = x[..., 0] != (10 * faces)[:, None, None]
    assert 0 < own.min() < 1
    for row in np.flatnonzero(partner != faces):
        np.testing.assert_allclose(pasted[row].mean(), 1 - own[row], atol=1e-6)
        assert (x[row, ..., 0][pasted[row]] == 10 * partner[row]).all()


def test_mixing_repeats_from_the_seed_and_never_touches_validation_batches():
    np.testing.assert_array_equal(mixed_batch(mixup=0.4)[0], mixed_batch(mixup=0.4)[0])
    split = labelled_faces(7)
    plain = FaceBatches(split, batch_size=7)[0]
    validation = FaceBatches(split, batch_size=7, mixup=0.4, cutmix=1.0)[0]
    np.testing.assert_array_equal(plain[0], validation[0])
    np.testing.assert_array_equal(plain[1], validation[1])
