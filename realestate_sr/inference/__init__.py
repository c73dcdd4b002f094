"""Production inference: enhance folders of listing photos at full resolution, unattended.

- ``photo_io``: decode/encode with EXIF orientation, ICC -> sRGB, 16-bit, alpha, CMYK.
- ``photo_files``: which files to process, output names (their format: ``utils.photo_formats``), atomic writes.
- ``pipeline``: decode/encode threads overlapped with the network.
- ``delivery``: a delivery folder enhanced unattended (tiled_infer.py's run: checks, shards, progress, summary).
- ``settings``: ``InferenceSettings``, how a network runs (tiles, TLC, precision, device), from an option file
  and flags with one precedence rule.
- ``enhancer``: ``Enhancer``, the one way a network (checkpoint, live module or ONNX graph) runs on photos.
- ``onnx_export``: a network as an ONNX graph; ``onnx_runner``: such a graph run by ONNX Runtime.

The CLIs are ``scripts/tiled_infer.py``, ``scripts/export_onnx.py`` and
``scripts/speed_infer.py``; docs/inference.md explains the choices.
"""
