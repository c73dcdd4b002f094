"""Oracle outputs as files: pairs read as float RGB, fits written as 8-bit PNGs that evaluate.py's --pred finds."""
import cv2
import numpy as np

from realestate_sr.data.image_io import read_bgr
from realestate_sr.utils.colour import to_bgr_uint8


def read_rgb(path):
    """A pair's photo as float32 RGB H,W,3 in [0, 1], decoded as training decodes it."""
    return read_bgr(path)[:, :, ::-1].astype(np.float32) / 255.0


def write_oracle_png(path, rgb):
    """Write an oracle's float RGB output as an 8-bit PNG at ``path`` (folders made); OSError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), to_bgr_uint8(rgb)):
        raise OSError(f'cannot write {path}')


def oracle_fits():
    """{row name: fit(src, tar) -> output}: the benchmark's oracle rows, in table order."""
    from realestate_sr.benchmark.local_oracle import oracle_local
    from realestate_sr.benchmark.oracle import oracle_lut
    return {'oracle_lut': oracle_lut, 'oracle_local': oracle_local}


def one_thread():
    """A worker process's start: one torch thread, as its siblings take the other cores."""
    import torch
    torch.set_num_threads(1)


def write_pair_oracles(src_path, tar_path, destinations):
    """Fit every oracle of ``destinations`` ({row name: PNG path}) on one pair and write its output; returns
    None, or the error's text (one bad pair costs its oracle rows, not the run)."""
    try:
        src, tar = read_rgb(src_path), read_rgb(tar_path)
        fits = oracle_fits()
        for name, path in destinations.items():
            write_oracle_png(path, fits[name](src, tar))
    except Exception as err:  # noqa: BLE001  reported by the caller, pair by pair
        return f'{type(err).__name__}: {err}'
    return None
