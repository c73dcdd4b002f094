"""Offline data preparation: nothing here runs during training or inference (``realestate_sr.data`` is what
training reads).

- ``lmdb_build``: pair lists -> the LMDB and manifests training reads (``scripts/make_lmdb.py``);
- ``pair_checks`` and ``pair_alignment``: the checks that flag a bad pair before it is trained on
  (``scripts/check_pairs.py``); ``planted_pairs`` and ``tone_edits``: sets with known defects and edits that
  test and calibrate them.

The benchmark's data (photo sources, capture families, house styles, its builder) is in
``realestate_sr.benchmark``.
"""
