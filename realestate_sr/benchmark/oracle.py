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


def least_squares(features, target):
    """The least-squares coefficients (F, 3) of ``features`` (N, F) for ``target`` (N, 3), through the F x F
    normal equations: a few milliseconds where an SVD of the N x F matrix takes a tenth of a second. F is
    at most 10 and the features are colours in [0, 1], so squaring the condition number costs nothing
    visible; a rank-deficient photo (a gray one) gets the minimum-norm solution, as from the N x F matrix."""
    coeffs, *_ = np.linalg.lstsq(features.T @ features, features.T @ target, rcond=None)
    return coeffs


def fit_poly(src, tar):
    """The 10x3 least-squares coefficients mapping ``src`` colours to ``tar`` colours."""
    return least_squares(poly_features(src), tar.reshape(-1, 3).astype(np.float64))


def apply_poly(coeffs, rgb):
    return (poly_features(rgb) @ coeffs).reshape(rgb.shape).astype(np.float32)


def oracle_poly(src, tar):
    return np.clip(apply_poly(fit_poly(src, tar), src), 0.0, 1.0)


def _cell_and_weights(rgb, size):
    """Per pixel: the flat index of the lowest of the 8 LUT nodes around its colour, and their trilinear
    weights (N, 8), corners in the order of ``_corner_offsets``."""
    pos = np.clip(rgb.reshape(-1, 3).astype(np.float64), 0.0, 1.0) * (size - 1)
    low = np.minimum(np.floor(pos).astype(np.int64), size - 2)
    frac = pos - low
    axes = [np.stack([1 - frac[:, axis], frac[:, axis]], axis=1) for axis in range(3)]
    weights = (axes[0][:, :, None, None] * axes[1][:, None, :, None] * axes[2][:, None, None, :]).reshape(-1, 8)
    return (low[:, 0] * size + low[:, 1]) * size + low[:, 2], weights


def _corner_offsets(size):
    """Flat index offsets of a cell's 8 nodes from its lowest one, r slowest (dr, dg, db)."""
    steps = np.array([0, 1])
    return (steps[:, None, None] * size * size + steps[None, :, None] * size + steps[None, None, :]).reshape(8)


def _normal_matrix(base, weights, size, diagonal):
    """The normal matrix of the trilinear least squares (plus ``diagonal`` on it), sparse CSC. Every pixel's 8
    nodes are those of its cell, so the 8x8 products are summed per cell first (36 bincounts over the pixels)
    and scattered once: a few hundred thousand entries instead of 64 per pixel."""
    from scipy.sparse import coo_matrix, identity
    nodes = size ** 3
    cells, cell_of_pixel = np.unique(base, return_inverse=True)
    blocks = np.empty((cells.size, 8, 8))
    for i in range(8):
        for j in range(i, 8):
            blocks[:, i, j] = blocks[:, j, i] = np.bincount(cell_of_pixel, weights[:, i] * weights[:, j],
                                                            minlength=cells.size)
    index = cells[:, None] + _corner_offsets(size)
    normal = coo_matrix((blocks.ravel(), (np.repeat(index, 8, axis=1).ravel(), np.tile(index, 8).ravel())),
                        shape=(nodes, nodes))
    return (normal + diagonal * identity(nodes, format='coo')).tocsc()


def fit_lut(src, tar, size=LUT_SIZE, prior_weight=None, corners=None):
    """A size^3 x 3 LUT (flat node order r, g, b): least squares through trilinear interpolation, pulled
    weakly towards the polynomial fit (``prior_weight`` per node, in pixels; default LUT_PRIOR_WEIGHT).
    ``corners``: ``_cell_and_weights(src, size)`` when the caller has it already."""
    from scipy.sparse.linalg import splu
    prior_weight = LUT_PRIOR_WEIGHT if prior_weight is None else prior_weight
    base, weights = _cell_and_weights(src, size) if corners is None else corners
    indices = base[:, None] + _corner_offsets(size)
    target = tar.reshape(-1, 3).astype(np.float64)
    nodes = size ** 3
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, size)] * 3, indexing='ij'), axis=-1).reshape(-1, 3)
    prior = poly_features(grid) @ fit_poly(src, tar)
    rhs = np.stack([np.bincount(indices.ravel(), (weights * target[:, [c]]).ravel(), minlength=nodes)
                    for c in range(3)], axis=1) + prior_weight * prior
    # symmetric positive definite: a symmetric ordering and no pivoting halve the factorisation's fill
    factor = splu(_normal_matrix(base, weights, size, prior_weight), permc_spec='MMD_AT_PLUS_A',
                  diag_pivot_thresh=0.0, options={'SymmetricMode': True})
    return factor.solve(rhs)


def apply_lut(lut, rgb, size=LUT_SIZE, corners=None):
    """``lut`` applied to ``rgb`` by trilinear interpolation; ``corners`` as in ``fit_lut``."""
    base, weights = _cell_and_weights(rgb, size) if corners is None else corners
    out = np.zeros((base.size, lut.shape[1]))
    for corner, offset in enumerate(_corner_offsets(size)):  # one corner at a time: no N x 8 x 3 gather
        out += weights[:, corner, None] * lut[base + offset]
    return out.reshape(rgb.shape).astype(np.float32)


def oracle_lut(src, tar):
    corners = _cell_and_weights(src, LUT_SIZE)  # the fit's pixels are the ones it edits
    return np.clip(apply_lut(fit_lut(src, tar, corners=corners), src, corners=corners), 0.0, 1.0)
