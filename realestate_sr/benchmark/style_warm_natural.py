"""House style ``warm_natural``: the warm, natural look of a house that keeps the room's own light: a warm white
balance, a gentle global curve, colours a touch richer.

No local tone mapping, on purpose: this house does not lift the corners or pull the windows, so a dark corner
stays darker than the window side as the eye saw it; the shadows come up a little through the curve's toe,
which is global. Every constant from ``RECIPE``, in linear light unless said otherwise:

1. warm white balance: red times ``warm_gains_rgb[0]``, blue times ``warm_gains_rgb[2]`` (green kept), about
   what moving the temperature slider 500 K warmer does;
2. exposure: luminance times ``2 ** exposure_ev``;
3. the tone curve ``tone_knots`` ((input, output) pairs on perceptual luminance, a monotone cubic through them):
   a mild lift of the deep shadows, midtones a little up, a gentle shoulder; applied to luminance only;
4. saturation: chroma around each pixel's grey times ``chroma_scale``;
5. a soft shoulder above ``shoulder_start`` per channel, then sRGB.
"""
import numpy as np

from realestate_sr.benchmark.family_utils import as_float_photo
from realestate_sr.benchmark.style_utils import (
    monotone_curve,
    perceptual_luminance,
    scale_chroma,
    soft_shoulder,
    with_perceptual_luminance,
)
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear

NAME = 'warm_natural'
KIND = 'style'
RECIPE = {
    'warm_gains_rgb': (1.08, 1.0, 0.88),
    'exposure_ev': 0.2,
    'tone_knots': ((0.0, 0.01), (0.1, 0.12), (0.3, 0.32), (0.5, 0.53), (0.75, 0.77), (1.0, 0.985)),
    'chroma_scale': 1.08,
    'shoulder_start': 0.85,
}


def apply_style(photo):
    """The house's edit of one photo: float32 RGB H,W,3 in [0, 1], the photo's shape; no randomness."""
    recipe = RECIPE
    linear = srgb_to_linear(as_float_photo(photo)) * np.asarray(recipe['warm_gains_rgb'])
    linear = linear * 2.0 ** recipe['exposure_ev']
    curve = monotone_curve(recipe['tone_knots'])
    linear = with_perceptual_luminance(linear, curve(perceptual_luminance(linear)))
    linear = scale_chroma(linear, recipe['chroma_scale'])
    target = linear_to_srgb(soft_shoulder(np.clip(linear, 0.0, None), recipe['shoulder_start']))
    return target.astype(np.float32)
