"""fercore: FER2013 data, CNN models, training and evaluation behind the fercore app.

Submodules are imported on demand so that `import fercore` stays cheap (no TensorFlow).
"""
try:
    # The live mirror's WebRTC (aiortc) encrypts with libsrtp, whose srtp_init() crashes the process when
    # TensorFlow is already loaded (TF 2.21, pylibsrtp 1.0.0); loaded first, both work. fercore is imported
    # before anything loads TensorFlow, in the app, the CLI, the tests and the benchmarks.
    import pylibsrtp  # noqa: F401
except ImportError:  # an install without the app's live video
    pass

from fercore.labels import EMOTIONS

__all__ = ["EMOTIONS"]
