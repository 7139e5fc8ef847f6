"""The shipped models (ONNX files, class lists, licences) and `manifest.toml`, installed as package data.

Not code: a package only so that the wheel carries the files and `service.settings.WEIGHTS_DIR` finds them.
"""
