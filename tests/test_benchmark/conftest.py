"""Local photo sources for the benchmark tests: scikit-image's bundled photos, through a source list of
``"source": "local"`` entries (no network)."""
import json
from pathlib import Path

import numpy as np
import pytest

SKIMAGE_PHOTOS = (('astronaut', 'astronaut.png', 'public domain (NASA)'),
                  ('chelsea', 'chelsea.png', 'CC0 (Stefan van der Walt)'),
                  ('coffee', 'coffee.png', 'CC0 (Rachel Michetti)'),
                  ('rocket', 'rocket.jpg', 'public domain (SpaceX)'),
                  ('chelsea_again', 'chelsea.png', 'CC0 (Stefan van der Walt)'))
TINY_SIDE = 96  # photos shrink to this long side: a build takes a second or two


def skimage_data_dir():
    import skimage.data
    return Path(skimage.data.__file__).parent


def local_entry(photo_id, file_name, licence, root, scene=None, **extra):
    return {'id': photo_id, 'source': 'local', 'root': str(root), 'file': file_name, 'licence': licence,
            'licence_file': 'README.txt', 'scene': scene or photo_id, 'why': 'test photo', **extra}


def write_source_list(path, entries):
    path.write_text(json.dumps({'photos': entries}), encoding='utf-8')
    return path


@pytest.fixture
def source_list(tmp_path):
    """A source list of 5 local photos; chelsea and chelsea_again share a scene."""
    root = skimage_data_dir()
    entries = [local_entry(pid, name, licence, root, scene='chelsea' if pid.startswith('chelsea') else None)
               for pid, name, licence in SKIMAGE_PHOTOS]
    return write_source_list(tmp_path / 'sources.json', entries)


@pytest.fixture
def photo():
    """A small real photo as float32 RGB in [0, 1]."""
    import skimage.data
    return (skimage.data.coffee()[::4, ::4].astype(np.float32) / 255.0).copy()
