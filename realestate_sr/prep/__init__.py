"""Offline data preparation: nothing here runs during training or inference (``realestate_sr.data`` is what
training reads).

- ``lmdb_build``: pair lists -> the LMDB and manifests training reads (``scripts/make_lmdb.py``);
- ``pair_checks`` and ``pair_alignment``: the checks that flag a bad pair before it is trained on
  (``scripts/check_pairs.py``); ``planted_pairs``: sets with known defects that test and calibrate them;

The benchmark's pieces (docs/benchmark.md):

- ``photo_sources``: which packaged photographs the benchmark is built from, their licences, how they are
  fetched (PyPI wheels, Debian packages, local folders) and which packages are reserved and refused;
- one module per pair family, each a function ``(photo, rng) -> (src, tar, params)`` on float32 RGB in
  [0, 1]: ``capture_amateur`` (also the demo's capture model), ``capture_camera``, ``capture_mixed_light``,
  ``capture_camera_jpeg`` (capture families: the target is the photo) and ``style_listing_hdr`` (the style
  family: the source is the photo); ``families`` lists them;
- one module per house style, each a fixed edit ``apply_style(photo) -> target``: ``style_none`` (restoration
  only), ``style_listing_hdr``, ``style_bright_airy`` (calibrated to ``edit_statistics.PROFESSIONAL_EDITS``),
  ``style_warm_natural``; ``styles`` lists them, ``style_utils`` holds what they share and
  ``edit_statistics`` measures what an edit does (exposure, contrast, midtone gamma, shadows, highlights,
  clipping, saturation);
- ``bench_build``: photos -> captured sources and house-style targets -> one JSONL manifest per task (a house
  style of ``styles``) that ``PairedListingDataset`` and ``scripts/make_lmdb.py`` read.
"""
