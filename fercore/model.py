"""The CNNs, built from one hyperparameter space that training uses as-is and keras-tuner searches.

Every model takes raw 48x48x1 pixel values (0-255) and rescales inside, ends in a 7-way softmax,
and names its last convolution ``last_conv`` (fercore.explain falls back to it for heatmaps).

A network trained on crops (`train --crop 44`) learns at that input size; the model it saves puts a
centre crop (layer ``centre_crop``) in front of the same weights, so it still takes a 48x48 face.
"""
from __future__ import annotations

import contextlib

import keras
import keras_tuner as kt
from keras import layers

from fercore.artifact import LAST_CONV, OUTPUT_LAYER
from fercore.labels import FACE_SIZE, NUM_CLASSES

ARCHITECTURES = ("seed", "default", "vgg")
TUNED_ARCHITECTURES = ("seed", "default")  # what the tuner searches; vgg is a teacher, too large for the app
OPTIMIZERS = ("adamw", "sgd-nesterov")
# SGD needs a larger step than AdamW; used where --set learning_rate=... does not say otherwise
OPTIMIZER_DEFAULTS = {"adamw": {}, "sgd-nesterov": {"learning_rate": 1e-2}}
SGD_MOMENTUM = 0.9
CROP_LAYER = "centre_crop"
# mixed_bfloat16: bf16 compute, float32 weights; training at 1.5x the images/s of float32 on CPUs with AVX512-BF16
# (default network, batch 64: 323 against 219, 3 runs each, 2-core EPYC).
PRECISIONS = ("float32", "mixed_bfloat16")

# Each architecture's fixed values in the shared space; the tuner searches around them.
ARCH_DEFAULTS = {
    # The prototype: conv(n)-pool, conv(2n)-pool, conv(4n)-pool, flatten, dense, softmax. Its n was 32;
    # 16 at twice the learning rate learns as much from 10,000 faces in 60% of the time (issue 17).
    "seed": dict(filters=16, dense_units=128, dropout=0.0, learning_rate=2e-3, weight_decay=0.0,
                 label_smoothing=0.0),
    # VGG-style: blocks of two 3x3 convs with batch norm, widths n, 2n, 4n, ..., dropout, a small head.
    "default": dict(filters=32, blocks=4, dense_units=256, dropout=0.4, learning_rate=1e-3, weight_decay=1e-4,
                    label_smoothing=0.1),
    # A larger VGG-style teacher (VGG-13/16-like, as the strongest from-scratch FER2013 networks): blocks of
    # `convs` 3x3 convs at 64, 128, 256, 512 filters, then `dense_layers` dense layers. 11.0M parameters on
    # 44x44 crops, 13.6M on whole 48x48 faces; about 5x the default network's compute.
    "vgg": dict(filters=64, blocks=4, convs=3, dense_units=1024, dense_layers=2, dropout=0.5, learning_rate=1e-3,
                weight_decay=1e-4, label_smoothing=0.1),
}


def hyperparameters(arch: str = "default", **overrides) -> kt.HyperParameters:
    """The hyperparameters of one architecture, as fixed values of the shared space."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}': choose one of {', '.join(ARCHITECTURES)}.")
    hp = kt.HyperParameters()
    hp.Fixed("arch", arch)
    for name, value in (ARCH_DEFAULTS[arch] | overrides).items():
        hp.Fixed(name, value)
    return hp


def define_space(hp: kt.HyperParameters) -> None:
    """Register the searchable ranges; values fixed beforehand (see hyperparameters()) win."""
    hp.Choice("arch", list(TUNED_ARCHITECTURES), default="default")
    hp.Choice("filters", [16, 24, 32, 48, 64], default=32)
    hp.Choice("blocks", [3, 4], default=4, parent_name="arch", parent_values=["default"])
    hp.Choice("dense_units", [64, 128, 256, 512], default=256)
    hp.Float("dropout", 0.0, 0.6, step=0.1, default=0.4)
    hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    # Keras's AdamW shrinks weights by weight_decay * learning_rate a step, so below 1e-2 it does next to
    # nothing; 0.05 did as well or better in three paired GPU runs (docs/model-experiments.md).
    hp.Choice("weight_decay", [0.0, 1e-4, 1e-2, 5e-2], default=1e-4)
    hp.Choice("label_smoothing", [0.0, 0.1], default=0.1)


def build_model(hp: kt.HyperParameters, precision: str = "float32", optimizer: str = "adamw",
                input_size: int = FACE_SIZE) -> keras.Model:
    """Build and compile the network that `hp` describes (the keras-tuner build function);
    `input_size` below 48: the network for crops of that size (see with_centre_crop)."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision '{precision}': choose one of {', '.join(PRECISIONS)}.")
    define_space(hp)
    with _dtype_policy(precision):
        model = _network(hp, input_size)
    compile_model(model, hp, jit_compile=_use_xla(precision), optimizer=optimizer)
    return model


def with_centre_crop(hp: kt.HyperParameters, trained: keras.Model) -> keras.Model:
    """A float32 model that takes a 48x48 face, crops its centre to the input size `trained` was trained on,
    and runs `trained`'s weights on it: what fercore saves for a network trained with --crop."""
    size = trained.input_shape[1]
    with _dtype_policy("float32"):
        model = _network(hp, FACE_SIZE, crop=size)
    model.set_weights(trained.get_weights())
    return model


def crop_size(model: keras.Model) -> int:
    """The side of the centre crop a model reads of a 48x48 face (48: the whole face)."""
    try:
        return int(model.get_layer(CROP_LAYER).height)
    except ValueError:
        return FACE_SIZE


def _use_xla(precision: str) -> bool | str:
    if keras.backend.backend() != "tensorflow":
        return "auto"  # JAX always compiles; PyTorch runs eagerly
    import tensorflow as tf

    # On a CPU, TensorFlow's own kernels train these networks faster than XLA: the default network, one
    # epoch of 4,000 faces, 53.5 s against 67.8 s for the whole process (3 paired runs, 2-core AVX-512
    # EPYC); bf16 under XLA was slower still. On a GPU, XLA is TensorFlow's faster path.
    return precision == "float32" and bool(tf.config.list_physical_devices("GPU"))


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Keras's dtype policy is thread-local state: set it for one build, then put it back."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _network(hp: kt.HyperParameters, input_size: int = FACE_SIZE, crop: int | None = None) -> keras.Model:
    arch = hp.get("arch")
    if not 8 <= input_size <= FACE_SIZE or (crop is not None and not 8 <= crop <= input_size):
        raise ValueError(f"Faces are {FACE_SIZE}x{FACE_SIZE}: a crop is 8 to {FACE_SIZE} pixels wide.")
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs if crop is None else layers.CenterCrop(crop, crop, name=CROP_LAYER)(inputs)
    x = layers.Rescaling(1 / 255.0, name="rescale")(x)
    if arch == "seed":
        x = _seed_body(x, hp.get("filters"))
    elif arch == "vgg":
        x = _vgg_body(x, hp.get("filters"), hp.get("blocks"), hp.get("convs"))
    else:
        x = _default_body(x, hp.get("filters"), hp.get("blocks"))
    x = layers.Flatten()(x)
    x = layers.Dense(hp.get("dense_units"), activation="relu", name="dense")(x)
    if hp.get("dropout") > 0:
        x = layers.Dropout(hp.get("dropout"))(x)
    for i in range(2, (hp.get("dense_layers") if arch == "vgg" else 1) + 1):
        x = layers.Dense(hp.get("dense_units"), activation="relu", name=f"dense{i}")(x)
        if hp.get("dropout") > 0:
            x = layers.Dropout(hp.get("dropout"))(x)
    # float32 softmax whatever the policy: bf16 probabilities would round to 1/128
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT_LAYER, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"fer_{arch}")


def compile_model(model: keras.Model, hp: kt.HyperParameters, jit_compile: bool | str,
                  optimizer: str = "adamw") -> None:
    """Softmax + categorical cross-entropy, and plain categorical accuracy (not per-label binary).
    optimizer: AdamW (the default), or SGD with Nesterov momentum 0.9 (both decay weights by
    weight_decay * learning_rate a step)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer '{optimizer}': choose one of {', '.join(OPTIMIZERS)}.")
    if optimizer == "sgd-nesterov":
        step = keras.optimizers.SGD(hp.get("learning_rate"), momentum=SGD_MOMENTUM, nesterov=True,
                                    weight_decay=hp.get("weight_decay") or None)
    else:
        step = keras.optimizers.AdamW(hp.get("learning_rate"), weight_decay=hp.get("weight_decay"))
    model.compile(
        optimizer=step,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.get("label_smoothing")),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )


def _seed_body(x, n: int):
    for i, width in enumerate((n, 2 * n, 4 * n)):
        name = LAST_CONV if i == 2 else f"conv{i + 1}"
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=name)(x)
        x = layers.MaxPooling2D()(x)
    return x


def _conv_relu_bn(x, width: int, name: str):
    # ReLU before batch norm: on FER2013 this learned clearly faster than conv-BN-ReLU
    # (training accuracy after 3 epochs on 8,000 faces: 37% against 31%).
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name=name + "_conv")(x)
    return layers.BatchNormalization(name=name)(x)


def _default_body(x, n: int, blocks: int):
    widths = [n * 2**i for i in range(blocks)]
    for block, width in enumerate(widths, start=1):
        x = _conv_relu_bn(x, width, f"block{block}a")
        x = _conv_relu_bn(x, width, LAST_CONV if block == len(widths) else f"block{block}b")
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    return x


def _vgg_body(x, n: int, blocks: int, convs: int):
    """As _default_body, with `convs` convolutions a block."""
    widths = [n * 2**i for i in range(blocks)]
    for block, width in enumerate(widths, start=1):
        for i in range(convs):
            last = block == len(widths) and i == convs - 1
            x = _conv_relu_bn(x, width, LAST_CONV if last else f"block{block}{chr(ord('a') + i)}")
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    return x
