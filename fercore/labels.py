"""The seven FER2013 emotions, in the dataset's own order (the CSV's emotion codes 0-6)."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)
INDEX = {name: i for i, name in enumerate(EMOTIONS)}

FACE_SIZE = 48  # FER2013 faces are 48x48 grayscale
