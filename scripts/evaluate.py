#!/usr/bin/env python
"""Score listing-edit models at full resolution against the editors' targets, and write a report to look at.

Per photo and on average: PSNR, SSIM, LPIPS, L1 (MAE on [0, 1]) and CIEDE2000 (mean dE00), for baseline rows
(the unedited input, a gray-world + exposure auto-correction), each checkpoint (tiled, as in production),
optionally its flip/rotation x8 TTA and the ensemble of all checkpoints, and folders of existing outputs.
Checkpoints are tiled, and run with or without TLC and in bf16 or fp32, as the --opt file's val block and
train.bf16 say (the training validation's settings), unless --tile-size/--overlap/--tile-batch/--border-pad/
--tlc/--no-tlc/--precision say otherwise.
Writes metrics.json, per_image.csv, summary.csv, summary.md, report.html (+ report_files/) and
contact_sheets/*.png into the report folder. See docs/evaluation.md.

Examples:
  python scripts/evaluate.py --pairs datasets/demo/val.jsonl --opt options/nafnet_demo.yml \\
      --model experiments/NAFNet_w16_demo_cpu/models/net_g_latest.pth -o results/eval_demo --skip-lpips
  python scripts/evaluate.py --pairs test/src test/tar --opt options/nafnet_gb10.yml \\
      --model fold0.pth --model fold1.pth --model fold2.pth --ensemble --tta -o results/kfold
  python scripts/evaluate.py --pairs test.jsonl --pred enhanced/ -o results/enhanced_folder
"""
import argparse
import logging
import runpy
import sys
import time
from pathlib import Path
from types import SimpleNamespace

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

# the flags come from this file alone, loaded by path: the package (torch, basicsr) loads once the arguments parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/cli_flags.py'))

LOG = logging.getLogger('evaluate')
MANIFEST_SUFFIX = '.jsonl'  # how --pairs tells manifests from the two folders of the folder form
# everything a report writes into its folder: any of them there already is a report --overwrite replaces
REPORT_FILES = ('metrics.json', 'per_image.csv', 'summary.csv', 'summary.md', 'report.html', 'report_files',
                'contact_sheets')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group('data')
    data.add_argument('--pairs', nargs='+', required=True, metavar='PATH',
                      help='JSONL manifests of {"src", "tar"} lines (one file, or several named *.jsonl), or two '
                      'folders SRC_DIR TAR_DIR with the same file names')
    data.add_argument('--root', help='data root the manifest paths are relative to (default: each manifest\'s '
                      'folder)')
    data.add_argument('--limit', type=int, help='evaluate only the first N pairs')
    what = parser.add_argument_group('what to score (each is its own row)')
    what.add_argument('--model', action='append', default=[], metavar='CKPT',
                      help='checkpoint to evaluate, or an experiment folder (its models/net_g_best.pth, else '
                      'net_g_latest.pth); repeat for several side by side')
    what.add_argument('--pred', action='append', default=[], metavar='FOLDER',
                      help='folder of existing outputs named like the src files (any image extension), searched '
                      'recursively as scripts/tiled_infer.py writes its input tree; repeatable')
    what.add_argument('--pred-suffix', default='', metavar='SUFFIX',
                      help="what the --pred outputs add to the src file's stem, as tiled_infer --suffix wrote them "
                      '(e.g. _edit: room_edit.jpg for room.jpg; default: none)')
    what.add_argument('--tta', action='store_true', help='add a flip/rotation x8 ensemble row per checkpoint')
    what.add_argument('--ensemble', action='store_true', help='add a row averaging all --model checkpoints')
    what.add_argument('--baselines', default=','.join(FLAGS.BASELINE_NAMES),
                      help=f'comma-separated baseline rows from {list(FLAGS.BASELINE_NAMES)} ("" for none; default: '
                      'all)')
    what.add_argument('--primary', help='row shown in contact sheets and used to sort photos worst first '
                      '(default: the first checkpoint or --pred row, else auto_correct)')
    FLAGS.add_photo_tool_args(parser)
    lp = parser.add_argument_group('LPIPS')
    lp.add_argument('--lpips-net', choices=['alex', 'vgg'], default='alex', help='LPIPS backbone (default: alex)')
    lp.add_argument('--lpips-weights', help='torchvision backbone file (default: $TORCH_HOME/hub/checkpoints/)')
    lp.add_argument('--skip-lpips', action='store_true', help='leave LPIPS out (e.g. no backbone weights here)')
    lp.add_argument('--lpips-random-backbone-for-testing', action='store_true',
                    help='TESTS ONLY: random LPIPS backbone; the LPIPS column then measures nothing perceptual')
    out = parser.add_argument_group('output')
    out.add_argument('-o', '--output', required=True, help='report folder')
    out.add_argument('--overwrite', action='store_true', help='replace a report already in the folder')
    out.add_argument('--no-html', action='store_true', help='write the tables only')
    out.add_argument('--title', help='report title (default: the report folder name)')
    out.add_argument('--dry-run', action='store_true', help='list pairs and rows, load and write nothing')
    out.add_argument('-q', '--quiet', action='store_true', help='no per-photo log lines')
    return parser


def load_pairs(args):
    """The pairs of ``--pairs``: manifests (one path, or every path named *.jsonl) or two folders."""
    from realestate_sr.data.pair_lists import PairListError, load_manifest, pairs_from_folders, readable_pair_names

    manifests = [path for path in args.pairs if Path(path).suffix.lower() == MANIFEST_SUFFIX]
    if len(args.pairs) == 1 or len(manifests) == len(args.pairs):
        pairs, listed_in = [], {}
        for manifest in args.pairs:
            for pair in load_manifest(manifest, args.root):
                if pair.name in listed_in:
                    raise PairListError(f'pair {pair.name} is in {listed_in[pair.name]} and in {manifest}: rows and '
                                        '--pred outputs are matched by name; give each pair once')
                listed_in[pair.name] = manifest
                pairs.append(pair)
        pairs = readable_pair_names(pairs)  # '../../../raw/a.jpg' entries are named inside their folder
    elif len(args.pairs) == 2 and not manifests:
        if args.root:
            raise PairListError('--root applies to manifests, not to two folders')
        pairs = pairs_from_folders(*args.pairs)
    else:
        raise PairListError(f'--pairs takes JSONL manifests (each named *{MANIFEST_SUFFIX}) or two folders SRC_DIR '
                            f'TAR_DIR, got {len(args.pairs)} paths of which {len(manifests)} named '
                            f'*{MANIFEST_SUFFIX}: {" ".join(args.pairs)}')
    return pairs[:args.limit] if args.limit else pairs


def check_args(args):
    """Usage errors that argparse cannot see, as one message; returns (baselines, checkpoint row labels)."""
    from realestate_sr.archs.network_loading import checkpoint_param_key, read_trained_with
    from realestate_sr.evaluation.methods import BASELINES, checkpoint_label

    baselines = tuple(name for name in args.baselines.split(',') if name)
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f'unknown baseline(s) {unknown}; known: {list(BASELINES)}')
    if (args.tta or args.ensemble) and not args.model:
        raise ValueError('--tta and --ensemble apply to --model checkpoints')
    if args.tile_size is not None and args.tile_size < 0:
        raise ValueError(f'--tile-size must be positive, or 0 for whole photos; got {args.tile_size}')
    if args.ensemble and len(args.model) < 2:
        raise ValueError('--ensemble needs two or more --model checkpoints')
    for path in args.model:
        if not Path(path).is_file():
            raise FileNotFoundError(f'checkpoint {path} not found')
        if not args.opt and read_trained_with(path) is None:
            raise ValueError(f'--model {path} needs --opt (the option file whose network_g it was trained with): '
                             'the checkpoint does not record it')
    if args.pred_suffix and not args.pred:
        raise ValueError('--pred-suffix applies to --pred folders')
    for folder in args.pred:
        if not Path(folder).is_dir():
            raise FileNotFoundError(f'--pred {folder} is not a folder')
    labels = [checkpoint_label(path, checkpoint_param_key(path, args.param_key), args.strength) for path in args.model]
    if len(set(labels)) != len(labels):
        raise ValueError(f'two checkpoints share a row name {labels}; give them distinct file or experiment names')
    return baselines, labels


def check_report_dir(report_dir, args, pairs):
    """Refuse a report folder that is a file, an input, or a folder holding one (a manifest, a photo, a --pred
    folder, a checkpoint): the report's files would land among, or over, what is scored."""
    from realestate_sr.utils.output_safety import UnsafeOutputError, check_clear_of_inputs

    if report_dir.exists() and not report_dir.is_dir():
        raise UnsafeOutputError(f'output {report_dir} is a file, not a folder; nothing was written: give a folder '
                                'for the report')
    inputs = [*args.pairs, args.root, *args.pred, *args.model, args.opt, args.lpips_weights]
    check_clear_of_inputs(report_dir, inputs + [path for pair in pairs for path in (pair.src, pair.tar)])


def default_primary(rows, baselines, labels, args):
    if labels:
        return labels[0]
    if args.pred:
        return rows[len(baselines)]
    return 'auto_correct' if 'auto_correct' in rows else rows[0]


def main(argv=None):
    args = build_parser().parse_args(argv)

    from realestate_sr.archs.checkpoint import CheckpointMismatchError
    from realestate_sr.data.pair_lists import PairListError
    from realestate_sr.evaluation.methods import CheckpointPredictor
    from realestate_sr.evaluation.runner import evaluate_pairs, row_names
    from realestate_sr.evaluation.scoring import metric_options
    from realestate_sr.evaluation.tables import markdown_table, write_tables
    from realestate_sr.evaluation.visual_report import VisualReport
    from realestate_sr.inference import network_args
    from realestate_sr.inference.postprocess import postprocess_from_args
    from realestate_sr.metrics.lpips_metric import lpips_model
    from realestate_sr.utils.weights import MissingWeightsError
    from realestate_sr.utils.wording import counted, one_line

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format='%(message)s', force=True)
    started = time.perf_counter()
    report_dir = Path(args.output)
    try:
        network_args.resolve_model_args(args)
        baselines, labels = check_args(args)
        # each checkpoint runs as --opt, else its own record, says; the first one's settings head the report
        model_settings = [network_args.settings_from_args(args, checkpoint) for checkpoint in args.model]
        settings = model_settings[0] if model_settings else network_args.settings_from_args(args)
        postprocess = postprocess_from_args(args)
        if postprocess.enabled and not args.model:
            raise ValueError('post-processing applies to --model rows (each gets a +pp row); add --model')
        pairs = load_pairs(args)
        check_report_dir(report_dir, args, pairs)
        rows_planned = row_names(baselines, args.pred, labels, args.tta, args.ensemble, postprocess.enabled)
        if not rows_planned:
            raise ValueError('nothing to score: no baselines, --model or --pred')
        primary = args.primary or default_primary(rows_planned, baselines, labels, args)
        if primary not in rows_planned:
            raise ValueError(f'--primary {primary!r} is not a row; rows: {rows_planned}')
        existing = [name for name in REPORT_FILES if (report_dir / name).exists()]
        if existing and not args.overwrite and not args.dry_run:
            raise FileExistsError(f'{report_dir} already holds a report ({", ".join(existing)}); '
                                  'pass --overwrite or choose another -o')
    except (ValueError, FileNotFoundError, FileExistsError, PairListError, OSError) as err:
        LOG.error('error: %s', one_line(err))
        return 2

    if args.dry_run:
        for pair in pairs:
            print(f'{pair.src} -> {pair.tar}')
        print(f'dry run: {counted(len(pairs), "pair")} x {counted(len(rows_planned), "row")} '
              f'({", ".join(rows_planned)}); report would go to {report_dir}; nothing loaded or written')
        return 0

    try:
        options = metric_options(args.lpips_net, args.lpips_weights, args.lpips_random_backbone_for_testing,
                                 skip=('lpips',) if args.skip_lpips else ())
        if 'lpips' in options:
            # Missing backbone weights stop the run here, not after the first photo's inference.
            lpips_model(args.lpips_net, args.lpips_weights, args.lpips_random_backbone_for_testing, 'cpu')
        predictors = []
        if args.model:
            for checkpoint, checkpoint_settings in zip(args.model, model_settings):
                predictors.append(CheckpointPredictor.from_checkpoint(
                    network_args.network_opt_from_args(args, checkpoint), checkpoint, checkpoint_settings,
                    param_key=args.param_key))
            enhancer = predictors[0].enhancer
            LOG.info('network: %s, runs %s', enhancer.description, enhancer.settings.describe())
            for warning in enhancer.warnings():
                LOG.warning('warning: %s', warning)
            if postprocess.enabled:
                LOG.info('post-processing (the +pp rows): %s', postprocess.describe())
    except MissingWeightsError as err:
        LOG.error('error: %s\nOn the command line: --lpips-weights PATH names the file; --skip-lpips leaves '
                  'LPIPS out.', err)
        return 2
    except (OSError, ValueError, KeyError, RuntimeError, CheckpointMismatchError) as err:
        LOG.error('error: cannot set up the evaluation: %s', one_line(err))
        return 2

    visuals = None if args.no_html else VisualReport(report_dir, primary)
    result = evaluate_pairs(pairs, options, predictors, baselines, [Path(p) for p in args.pred], args.tta,
                            args.ensemble, on_outputs=visuals, postprocess=postprocess,
                            pred_suffix=args.pred_suffix)
    written = []
    if result.images:
        first = predictors[0].enhancer if predictors else None
        settings = first.settings if first else settings  # what ran (a CPU runs an unasked bf16 as fp32)
        config = {'command': ' '.join(sys.argv), 'pairs': args.pairs, 'root': args.root, 'models': args.model,
                  'param_keys': {p.label: p.enhancer.param_key for p in predictors},
                  'pred': args.pred, 'pred_suffix': args.pred_suffix, 'opt': args.opt,
                  'tlc': settings.tlc if args.model else None,
                  'tile': settings.tile_dict(), 'tile_and_tlc_defaults_from': settings.source,
                  'tlc_without_effect': first.tlc_note if first else None, 'precision': settings.precision,
                  'channels_last': settings.channels_last, 'device': str(first.device) if first else None,
                  'strength': settings.strength if args.model else None,
                  'tta': args.tta, 'ensemble': args.ensemble, 'primary': primary, 'metrics': options,
                  'postprocess': postprocess.describe()}
        written = write_tables(result, report_dir, config)
        if visuals is not None:
            written += visuals.write(result, args.title or report_dir.name)
        print(markdown_table(result))
    seconds = time.perf_counter() - started
    print(f'{len(result.images)}/{counted(len(pairs), "pair")} scored, {len(result.failures)} failed, '
          f'{counted(len(result.rows), "row")} ({", ".join(result.rows)}), {seconds:.1f} s; '
          f'outputs in {report_dir}: ' + (', '.join(str(p.relative_to(report_dir)) for p in written) or 'none'))
    for name, error in result.failures:
        print(f'FAILED {name}: {error}')
    return 0 if result.images and not result.failures else 1


if __name__ == '__main__':
    sys.exit(main())
