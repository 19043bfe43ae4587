"""The Live mirror's on-device reader: a Streamlit component whose JavaScript (reader.js, README.md) opens the
camera and finds and reads the face in the learner's browser with onnxruntime-web, and the files it needs,
served by this app's own server: onnxruntime-web from npm at the version package-lock.json pins, YuNet, and
the active model exported to ONNX. Nothing comes from a CDN, and no video frame comes to the server: only
the still of a goal held, when one is held.

The files are served under addresses that name their version (onnxruntime-web's, the model's digest), so a
browser keeps them for a year and a second visit downloads nothing. Each is compressed once per server
process and kept compressed, not for every learner (the app's gzip step would do that to a 14 MB file)."""
