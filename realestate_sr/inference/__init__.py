"""Production inference: enhance folders of listing photos at full resolution, unattended.

- ``photo_io``: decode/encode with EXIF orientation, ICC -> sRGB, 16-bit, alpha, CMYK.
- ``photo_files``: which files to process, output names, atomic writes.
- ``pipeline``: decode/encode threads overlapped with the network.
- ``engines``: PyTorch and ONNX Runtime ``run_batch`` callables, ONNX export.
- ``enhance``: one photo through ``realestate_sr.utils.tiling.tiled_forward``.

The CLIs are ``scripts/tiled_infer.py``, ``scripts/export_onnx.py`` and
``scripts/bench_infer.py``; docs/inference.md explains the choices.
"""
