"""The local oracle: the best per-photo bilateral grid of affine colour transforms, fitted on the photo's target.

The ceiling of the default whole-photo recipe's kind of edit (``options/bench/bilateral_grid_whole.yml``:
BilateralGridNet with a 16x16x8 grid of 3x4 affine transforms; realestate_sr/archs/bilateral_grid_arch.py),
where the global oracles (``oracle.py``) are the ceiling of any edit that maps a colour to one colour
wherever it sits. Fitted per photo on its own target, so it is a reference, never a method.

The fit: the grid's nodes sit at cell centres ``(i + 0.5) / G`` on each axis, a pixel's transform is the
trilinear blend of its 8 neighbouring nodes (positions beyond the outer centres clamp), exactly as the
network slices it; the guide is the source's Rec. 601 luma (the network learns its guide: a fixed one is a
slightly lower ceiling, stated in the docs). The output is linear in the nodes' coefficients, so the
least-squares fit is one sparse linear system per output channel (the three share its matrix), solved
exactly (on every k-th pixel in raster order beyond ``FIT_PIXELS``: 32 samples per node on average, where a
node has 12 unknowns); a weak pull (``RIDGE`` per node, in pixels) towards the photo's best global affine
transform fills the nodes no pixel reaches. The fitted grid is applied with the network's own slicing
(``slice_and_apply_rows``) at full resolution, and the result is never worse than the source (identity):
when the fit's error is higher, the source is returned.

Maps float32 RGB H,W,3 in [0, 1] to the same shape.
"""
import numpy as np
import torch

from realestate_sr.archs.bilateral_grid_arch import slice_and_apply_rows
from realestate_sr.benchmark.oracle import least_squares
from realestate_sr.utils.colour import LUMA_601, luma

GRID_SHAPE = (16, 16, 8)  # the default recipe: a 128 px thumbnail over 3 levels, grid_depth 8
RIDGE = 1e-2
CHUNK_PIXELS = 512  # pixels per index_add_ of the normal matrix's blocks: 4 MB of products stay in cache
FIT_PIXELS = 2 ** 16  # the fit reads every k-th pixel beyond this (32 samples per node on average)


def _axis(coord, samples):
    """Continuous node index (border-clamped) -> (lower node, fraction), as the network's slicing does."""
    coord = np.clip(coord, 0, samples - 1)
    low = np.minimum(np.floor(coord), samples - 2)
    return low.astype(np.int64), coord - low


def grid_design(rgb, grid_shape=GRID_SHAPE, pixels=None):
    """Per pixel (every one, or the flat raster indices ``pixels``): its 8 neighbouring nodes (flat index,
    ``(y * Gw + x) * Gd + z``), their trilinear weights, and the index of the cell they enclose. rgb H,W,3 float."""
    gh, gw, gd = grid_shape
    height, width = rgb.shape[:2]
    pixels = np.arange(height * width) if pixels is None else pixels
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(width) + 0.5) / width
    iy, fy = _axis(v * gh - 0.5, gh)
    ix, fx = _axis(u * gw - 0.5, gw)
    iz, fz = _axis(luma(rgb.reshape(-1, 3)[pixels].astype(np.float64), LUMA_601) * gd - 0.5, gd)
    rows, columns = pixels // width, pixels % width
    iy, fy = iy[rows], fy[rows]
    ix, fx = ix[columns], fx[columns]
    nodes, weights = [], []
    for dy in (0, 1):
        for dx in (0, 1):
            for dz in (0, 1):
                nodes.append(((iy + dy) * gw + ix + dx) * gd + iz + dz)
                weights.append((fy if dy else 1 - fy) * (fx if dx else 1 - fx) * (fz if dz else 1 - fz))
    cells = (iy * (gw - 1) + ix) * (gd - 1) + iz
    return np.stack(nodes, axis=1), np.stack(weights, axis=1), cells


def global_affine(src, tar):
    """The 3x4 least-squares affine colour transform of the whole photo."""
    features = np.concatenate([src.reshape(-1, 3), np.ones((src.shape[0] * src.shape[1], 1))], axis=1)
    return least_squares(features.astype(np.float64), tar.reshape(-1, 3).astype(np.float64)).T


def fit_grid(src, tar, grid_shape=GRID_SHAPE, ridge=RIDGE):
    """Gh,Gw,Gd,12 float32: per node the row-major 3x4 affine transform minimising the squared error of the
    sliced output against ``tar`` (plus ``ridge`` per node towards the global affine fit)."""
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import splu
    pixels = np.arange(0, src.shape[0] * src.shape[1], -(-src.shape[0] * src.shape[1] // FIT_PIXELS))
    nodes, weights, cells = grid_design(src, grid_shape, pixels)
    colours = src.reshape(-1, 3)[pixels].astype(np.float64)
    target = tar.reshape(-1, 3)[pixels].astype(np.float64)
    features = np.concatenate([colours, np.ones((nodes.shape[0], 1))], axis=1)
    unknowns = int(np.prod(grid_shape)) * 4
    columns = (nodes[:, :, None] * 4 + np.arange(4)).reshape(-1, 32)  # per pixel: node x (r, g, b, 1)
    design = (weights[:, :, None] * features[:, None, :]).reshape(-1, 32)
    # pixels of one cell share their 32 columns: the normal matrix is a 32 x 32 block per cell
    cell_count = int(np.prod([g - 1 for g in grid_shape]))
    blocks = torch.zeros(cell_count, 32, 32, dtype=torch.float64)
    cell_columns = np.zeros((cell_count, 32), dtype=np.int64)
    cell_columns[cells] = columns
    for start in range(0, design.shape[0], CHUNK_PIXELS):
        rows = torch.from_numpy(design[start:start + CHUNK_PIXELS])
        blocks.index_add_(0, torch.from_numpy(cells[start:start + CHUNK_PIXELS]), rows[:, :, None] * rows[:, None])
    used = np.unique(cells)
    block_values = blocks.numpy()[used]
    index = cell_columns[used]
    normal = coo_matrix((block_values.ravel(), (np.repeat(index, 32, axis=1).ravel(), np.tile(index, 32).ravel())),
                        shape=(unknowns, unknowns)).tocsc()
    prior = np.tile(global_affine(src, tar).T[None], (unknowns // 4, 1, 1)).reshape(unknowns, 3)
    rhs = np.stack([np.bincount(columns.ravel(), (design * target[:, [c]]).ravel(), minlength=unknowns)
                    for c in range(3)], axis=1) + ridge * prior
    system = (normal + ridge * identity(unknowns, format='csc')).tocsc()
    # symmetric positive definite: a symmetric ordering and no pivoting halve the factorisation's time
    solution = splu(system, permc_spec='MMD_AT_PLUS_A', diag_pivot_thresh=0.0,
                    options={'SymmetricMode': True}).solve(rhs)
    # solution[node * 4 + k, c] is A[c, k] of that node: the network's row-major 3x4 per node
    return solution.reshape(*grid_shape, 4, 3).transpose(0, 1, 2, 4, 3).reshape(*grid_shape, 12).astype(np.float32)


def apply_grid(grid, rgb):
    """The grid's edit of ``rgb`` (H,W,3) with the network's slicing and the luma guide; H,W,3 float32."""
    height, width = rgb.shape[:2]
    image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))
    u = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    v = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    guide = torch.from_numpy(luma(rgb.astype(np.float32), LUMA_601))
    with torch.no_grad():
        out = slice_and_apply_rows(torch.from_numpy(grid), image, u, v, guide)
    return out.numpy().transpose(1, 2, 0)


def oracle_local(src, tar):
    """The per-photo grid fitted on ``tar``, applied to ``src`` and clipped to [0, 1]; ``src`` if that is closer."""
    src = np.asarray(src, dtype=np.float32)
    out = np.clip(apply_grid(fit_grid(src, tar), src), 0.0, 1.0)
    if np.mean((out - tar) ** 2) > np.mean((src - tar) ** 2):
        return src.copy()
    return out
