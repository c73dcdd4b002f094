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
