"""fercore: FER2013 data, CNN models, training and evaluation behind the fercore app.

Submodules are imported on demand so that `import fercore` stays cheap (no TensorFlow).
"""
from fercore.labels import EMOTIONS

__all__ = ["EMOTIONS"]
