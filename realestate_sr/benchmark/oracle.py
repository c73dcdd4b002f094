"""Oracle rows: the best global colour map for each photo, fitted on that photo's own target.

A global map sends every input colour to one output colour wherever it is in the frame, so no global method
(an auto button, a LUT predicted from a thumbnail) can beat the map fitted on the answer. Two fits:

- ``oracle_poly``: a 3x10 second-order polynomial colour transform in sRGB, features
  ``(r, g, b, r^2, g^2, b^2, rg, rb, gb, 1)``, least squares over all pixels;
- ``oracle_lut``: a 17^3 3D LUT applied by trilinear interpolation, its nodes fitted by least squares
  through that interpolation (the LUT whose trilinear output is closest to the target), with a weak pull
  (``LUT_PRIOR_WEIGHT``) towards ``oracle_poly`` at each node so that nodes no pixel reaches take the
  polynomial's value. Any smooth function of colour, so it is the higher ceiling; a model that beats it uses
  where a colour is (local edits, denoising), not only what it is.

Both map float32 RGB H,W,3 in [0, 1] to the same shape.
"""
import numpy as np

LUT_SIZE = 17
LUT_PRIOR_WEIGHT = 1e-2  # in pixels per node: decides only where (almost) no pixel falls


def poly_features(rgb):
    r, g, b = (rgb[..., i].reshape(-1).astype(np.float64) for i in range(3))
    return np.stack([r, g, b, r * r, g * g, b * b, r * g, r * b, g * b, np.ones_like(r)], axis=1)


def fit_poly(src, tar):
    """The 10x3 least-squares coefficients mapping ``src`` colours to ``tar`` colours."""
    coeffs, *_ = np.linalg.lstsq(poly_features(src), tar.reshape(-1, 3).astype(np.float64), rcond=None)
    return coeffs


def apply_poly(coeffs, rgb):
    return (poly_features(rgb) @ coeffs).reshape(rgb.shape).astype(np.float32)


def oracle_poly(src, tar):
    return np.clip(apply_poly(fit_poly(src, tar), src), 0.0, 1.0)


def _corners(rgb, size):
    """Per pixel: the 8 LUT node indices (flat) and trilinear weights around its colour."""
    pos = np.clip(rgb.reshape(-1, 3).astype(np.float64), 0.0, 1.0) * (size - 1)
    low = np.minimum(np.floor(pos).astype(np.int64), size - 2)
    frac = pos - low
    indices, weights = [], []
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                idx = ((low[:, 0] + dr) * size + (low[:, 1] + dg)) * size + (low[:, 2] + db)
                w = ((frac[:, 0] if dr else 1 - frac[:, 0]) * (frac[:, 1] if dg else 1 - frac[:, 1])
                     * (frac[:, 2] if db else 1 - frac[:, 2]))
                indices.append(idx)
                weights.append(w)
    return np.stack(indices, axis=1), np.stack(weights, axis=1)


def fit_lut(src, tar, size=LUT_SIZE, prior_weight=None):
    """A size^3 x 3 LUT (flat node order r, g, b): least squares through trilinear interpolation, pulled
    weakly towards the polynomial fit (``prior_weight`` per node, in pixels; default LUT_PRIOR_WEIGHT)."""
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import spsolve
    prior_weight = LUT_PRIOR_WEIGHT if prior_weight is None else prior_weight
    indices, weights = _corners(src, size)
    target = tar.reshape(-1, 3).astype(np.float64)
    nodes = size ** 3
    normal = None
    for corner in range(8):  # one corner's rows at a time: 8x less memory than all 64 products at once
        block = coo_matrix(((weights[:, [corner]] * weights).ravel(),
                            (np.repeat(indices[:, corner], 8), indices.ravel())), shape=(nodes, nodes)).tocsc()
        normal = block if normal is None else normal + block
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, size)] * 3, indexing='ij'), axis=-1).reshape(-1, 3)
    prior = poly_features(grid) @ fit_poly(src, tar)
    rhs = np.stack([np.bincount(indices.ravel(), (weights * target[:, [c]]).ravel(), minlength=nodes)
                    for c in range(3)], axis=1) + prior_weight * prior
    system = (normal + prior_weight * identity(nodes, format='csc')).tocsc()
    return np.stack([spsolve(system, rhs[:, c]) for c in range(3)], axis=1)


def apply_lut(lut, rgb, size=LUT_SIZE):
    indices, weights = _corners(rgb, size)
    return np.einsum('nk,nkc->nc', weights, lut[indices]).reshape(rgb.shape).astype(np.float32)


def oracle_lut(src, tar):
    return np.clip(apply_lut(fit_lut(src, tar), src), 0.0, 1.0)


ORACLE_FUNCTIONS = {'oracle_poly': oracle_poly, 'oracle_lut': oracle_lut}
