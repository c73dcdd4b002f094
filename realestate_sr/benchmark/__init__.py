"""The benchmark (docs/benchmark.md): its data, and the pieces of scripts/benchmark.py.

Its data (``scripts/make_bench_data.py``):

- ``photo_sources``: which packaged photographs the benchmark is built from, their licences, how they are
  fetched (PyPI wheels, Debian packages, local folders) and which packages are reserved and refused;
- one module per pair family, each a function ``(photo, rng) -> (src, tar, params)`` on float32 RGB in
  [0, 1]: ``capture_amateur`` (also the demo's capture model), ``capture_camera``, ``capture_mixed_light``,
  ``capture_camera_jpeg`` (capture families: the target is the photo) and ``style_listing_hdr`` (the style
  family: the source is the photo); ``families`` lists them, ``family_utils`` holds what they share;
- one module per house style, each a fixed edit ``apply_style(photo) -> target``: ``style_none`` (restoration
  only), ``style_listing_hdr``, ``style_bright_airy`` (calibrated to ``edit_statistics.PROFESSIONAL_EDITS``),
  ``style_warm_natural``; ``styles`` lists them, ``style_utils`` holds what they share and
  ``edit_statistics`` measures what an edit does (exposure, contrast, midtone gamma, shadows, highlights,
  clipping, saturation); both lists are a ``module_registry.ModuleRegistry``;
- ``build``: photos -> captured sources and house-style targets -> one JSONL manifest per task (a house
  style of ``styles``) that ``PairedListingDataset`` and ``scripts/make_lmdb.py`` read.

The runner's pieces: the oracle rows (``oracle``, ``local_oracle``, ``oracle_files``), the MAC count per
listing photo (``macs``), the option-file copies that point a recipe at the benchmark data (``recipes``), the
folds (``folds``), the saved pieces (``pieces``) and the tables (``report``, ``cv_report``).
"""
