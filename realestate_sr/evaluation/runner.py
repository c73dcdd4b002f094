"""The evaluation loop: every pair through every row (baseline, checkpoint, TTA, ensemble, saved outputs).

One photo at a time: each row's full-resolution output is scored and handed to
``on_outputs`` (the report's thumbnail writer) before the next photo is read,
so memory holds one photo's outputs, not the data set's. A pair that cannot be
read or scored is recorded in ``failures`` and the loop goes on.
"""
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realestate_sr.data.image_io import PairSizeMismatchError, read_bgr
from realestate_sr.evaluation.methods import BASELINES, mean_of
from realestate_sr.evaluation.scoring import mean_scores, score
from realestate_sr.inference.postprocess import POSTPROCESS_ROW_SUFFIX
from realestate_sr.utils.colour import to_bgr_uint8
from realestate_sr.utils.photo_decode import is_image_file

logger = logging.getLogger(__name__)


class MissingPredictionError(FileNotFoundError):
    """``--pred`` folder has no output for a pair."""


@dataclass
class ImageResult:
    name: str
    src: str
    tar: str
    height: int
    width: int
    scores: dict = field(default_factory=dict)  # row -> {metric: value}
    seconds: dict = field(default_factory=dict)  # row -> inference seconds (model rows)


@dataclass
class EvaluationResult:
    rows: list
    images: list
    failures: list  # (pair name, error message)

    def means(self):
        """row -> {metric: mean over the images that were scored}."""
        return {row: mean_scores([image.scores[row] for image in self.images]) for row in self.rows}


def bgr_to_rgb_float(bgr):
    """uint8 BGR from OpenCV -> RGB float32 in [0, 1], the network's convention."""
    return np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32) / 255.0


class AmbiguousPredictionError(ValueError):
    """``--pred`` folder has several outputs that fit a pair equally well."""


class PredictionFolder:
    """The image files of a ``--pred`` folder, searched recursively, indexed once by file stem.

    ``scripts/tiled_infer.py`` rebuilds its input tree under its output, and the tree it was given may start
    anywhere along a pair's path (``-i data/src`` for the pair ``src/listing1/0001.jpg`` writes
    ``listing1/0001.png``). So an output fits a pair when it has the pair's stem (any image extension) and its
    folder inside ``--pred`` is a trailing part of the pair's folder; the longest such part wins. Without
    any, a stem found once anywhere fits. Two files that fit equally well are an error, never a guess.
    ``suffix`` is what ``tiled_infer --suffix`` added to each stem (``room_edit.jpg`` for ``room.jpg``).
    """

    def __init__(self, root, suffix=''):
        self.root, self.suffix = Path(root), suffix
        self.by_stem = {}
        for path in sorted(self.root.rglob('*')):
            relative = path.relative_to(self.root)
            if not any(part.startswith('.') for part in relative.parts) and path.is_file() and is_image_file(path):
                self.by_stem.setdefault(path.stem, []).append(relative)

    def find(self, pair_name):
        """The output file for ``pair_name``; MissingPredictionError / AmbiguousPredictionError."""
        wanted = Path(pair_name)
        candidates = self.by_stem.get(wanted.stem + self.suffix, [])
        folder = wanted.parent.parts

        def fit(relative):  # how many trailing folders of the pair's path the output's folder names; -1: none
            parts = relative.parent.parts
            return len(parts) if len(parts) <= len(folder) and folder[len(folder) - len(parts):] == parts else -1

        best = max((fit(relative) for relative in candidates), default=-1)
        chosen = [relative for relative in candidates if fit(relative) == best] if best >= 0 else candidates
        if len(chosen) == 1:
            return self.root / chosen[0]
        if not chosen:
            raise MissingPredictionError(f'{self.root} has no output named {wanted.stem}{self.suffix}.* (searched '
                                         f'recursively) for pair {pair_name}{self._suffix_hint(wanted.stem)}')
        shown = ', '.join(str(relative) for relative in chosen[:4]) + (', ...' if len(chosen) > 4 else '')
        raise AmbiguousPredictionError(f'{self.root} has {len(chosen)} outputs that fit pair {pair_name} equally '
                                       f'well ({shown}); keep one, or score each tree with its own --pred')


    def _suffix_hint(self, stem):
        """'; ... --pred-suffix _edit' when, without a suffix, outputs named ``<stem>_edit.*`` are there."""
        found = sorted({other[len(stem):] for other in self.by_stem
                        if other.startswith(stem) and other[len(stem):][:1] in ('_', '-', '.', ' ')})
        if self.suffix or not found:
            return ''
        return (f'; it has {stem}{found[0]}.*: outputs written with tiled_infer --suffix {found[0]} are scored with '
                f'--pred-suffix {found[0]}')


def row_names(baselines=tuple(BASELINES), pred_dirs=(), model_labels=(), tta=False, ensemble=False,
              postprocess=False):
    """Table rows in order: baselines, saved outputs, each checkpoint (+TTA), the checkpoint ensemble (+TTA);
    with ``postprocess`` each network row is followed by its post-processed twin (``+pp``)."""
    rows = list(baselines)
    rows += [pred_row(p) for p in pred_dirs]
    network_rows = []
    for label in model_labels:
        network_rows.append(label)
        if tta:
            network_rows.append(label + '+tta')
    if ensemble:
        network_rows.append(ensemble_row(model_labels))
        if tta:
            network_rows.append(ensemble_row(model_labels) + '+tta')
    for row in network_rows:
        rows += [row, row + POSTPROCESS_ROW_SUFFIX] if postprocess else [row]
    return rows


def pred_row(pred_dir):
    return f'pred:{Path(pred_dir).name}'


def ensemble_row(member_labels):
    """``ensemble(N)``, with the members' ``@param_key`` when they all share one."""
    keys = {label.rpartition('@')[2] if '@' in label else None for label in member_labels}
    key = keys.pop() if len(keys) == 1 else None
    return f'ensemble({len(member_labels)})' + (f'@{key}' if key else '')


class TileProgress:
    """Log lines inside a long photo (``tiles k/N`` per checkpoint row), at most one per ``every`` seconds."""

    def __init__(self, position, name, every):
        self.position, self.name, self.every = position, name, every
        self.last = time.perf_counter()

    def for_row(self, label):
        def report(done, total):
            now = time.perf_counter()
            if done < total and now - self.last >= self.every:
                self.last = now
                logger.info('%s %s: %s tiles %d/%d', self.position, self.name, label, done, total)
        return report


def outputs_for(src_rgb, pair_name, baselines, pred_folders, predictors, tta, ensemble, seconds, progress=None):
    """row -> RGB float output for one photo, in ``row_names`` order; ``pred_folders``: PredictionFolders."""
    outputs = {name: BASELINES[name](src_rgb) for name in baselines}
    for pred_folder in pred_folders:
        pred = read_bgr(pred_folder.find(pair_name))
        if pred.shape != src_rgb.shape:
            raise PairSizeMismatchError(f'{pair_name}: output {pred.shape[:2]} in {pred_folder.root} vs input '
                                        f'{src_rgb.shape[:2]}')
        outputs[pred_row(pred_folder.root)] = bgr_to_rgb_float(pred)
    plains, tta_means = [], []
    for predictor in predictors:
        start = time.perf_counter()
        plain, tta_mean = predictor.predict(src_rgb, tta=tta,
                                            progress=None if progress is None else progress.for_row(predictor.label))
        seconds[predictor.label] = time.perf_counter() - start
        outputs[predictor.label] = plain
        plains.append(plain)
        if tta:
            outputs[predictor.label + '+tta'] = tta_mean
            tta_means.append(tta_mean)
    if ensemble:
        # The mean of the members' outputs is the ensemble's output: no extra inference.
        row = ensemble_row([predictor.label for predictor in predictors])
        outputs[row] = mean_of(plains)
        if tta:
            outputs[row + '+tta'] = mean_of(tta_means)
    return outputs


def evaluate_pairs(pairs, metric_opts, predictors=(), baselines=tuple(BASELINES), pred_dirs=(), tta=False,
                   ensemble=False, on_outputs=None, progress_seconds=30, postprocess=None, pred_suffix=''):
    """Score every row on every pair.

    Args:
        pairs (list[PairPaths]): From ``load_manifest`` or ``pairs_from_folders``.
        metric_opts (dict): name -> BasicSR metric options (``scoring.metric_options``).
        predictors (list[CheckpointPredictor]): Checkpoints, each its own row.
        baselines (tuple[str]): Names from ``methods.BASELINES``.
        pred_dirs (list[Path]): Folders of already computed outputs, each its own row.
        pred_suffix (str): What the outputs' stems add to the src stems (``tiled_infer --suffix``).
        tta (bool): Add a flip/rotation x8 row per checkpoint (and for the ensemble).
        ensemble (bool): Add a row averaging all checkpoints' outputs (needs two or more).
        on_outputs (callable | None): ``on_outputs(index, image_result, src_rgb, tar_rgb, outputs)``
            after each photo, e.g. the HTML report's thumbnail writer.
        progress_seconds (float): Inside a photo, a ``tiles k/N`` log line at most this often.
        postprocess (PostProcessSettings | None): When enabled, each network row gets a ``+pp`` row: its output
            post-processed as ``scripts/tiled_infer.py`` does (``PostProcessSettings.apply``).

    Returns:
        EvaluationResult.
    """
    if ensemble and len(predictors) < 2:
        raise ValueError(f'an ensemble needs two or more checkpoints, got {len(predictors)}')
    postprocessing = postprocess is not None and postprocess.enabled
    rows = row_names(baselines, pred_dirs, [p.label for p in predictors], tta, ensemble, postprocessing)
    pred_folders = [PredictionFolder(pred_dir, pred_suffix) for pred_dir in pred_dirs]  # each tree walked once
    images, failures = [], []
    for index, pair in enumerate(pairs):
        try:
            src_bgr, tar_bgr = read_bgr(pair.src), read_bgr(pair.tar)
            if src_bgr.shape != tar_bgr.shape:
                raise PairSizeMismatchError(f'{pair.name}: src {src_bgr.shape[:2]} vs tar {tar_bgr.shape[:2]}')
            src_rgb = bgr_to_rgb_float(src_bgr)
            result = ImageResult(pair.name, pair.src, pair.tar, *src_bgr.shape[:2])
            progress = TileProgress(f'[{index + 1}/{len(pairs)}]', pair.name, progress_seconds)
            outputs = outputs_for(src_rgb, pair.name, baselines, pred_folders, predictors, tta, ensemble,
                                  result.seconds, progress)
            if postprocessing:  # in row order, so the report's columns follow the table's rows
                outputs = {row: outputs[row] if row in outputs else
                           postprocess.apply(outputs[row.removesuffix(POSTPROCESS_ROW_SUFFIX)]) for row in rows}
            target_cache = {}  # what the metrics derive from this target, shared by the rows
            for row in rows:
                # The identity row scores the file's own bytes, without a float round trip.
                output_bgr = src_bgr if row == 'input' else to_bgr_uint8(outputs[row])
                result.scores[row] = score(output_bgr, tar_bgr, metric_opts, target_cache)
            if on_outputs is not None:
                on_outputs(index, result, src_rgb, bgr_to_rgb_float(tar_bgr), outputs)
        except Exception as err:  # one bad pair must not end the run; the CLI exits non-zero at the end
            logger.error('%s: %s: %s', pair.name, type(err).__name__, err)
            failures.append((pair.name, f'{type(err).__name__}: {err}'))
            continue
        images.append(result)
        logger.info('[%d/%d] %s %dx%d  %s', index + 1, len(pairs), pair.name, result.width, result.height,
                    '  '.join(f'{row}: l1={s.get("l1", float("nan")):.4f}' for row, s in result.scores.items()))
    return EvaluationResult(rows, images, failures)
