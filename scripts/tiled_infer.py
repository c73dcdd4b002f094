#!/usr/bin/env python
"""Enhance listing photos at full resolution: a file or a whole delivery folder, unattended.

The folder is walked recursively and its tree is rebuilt under OUTPUT. Every photo is read upright (EXIF
orientation applied) in sRGB (embedded ICC profiles converted), enhanced (tile by tile, or in one pass with
--tile-size 0 and always for whole-photo networks such as the bilateral grid), and written to a temporary
name then renamed, so an interrupted run leaves no partial file; rerun with --skip-existing to
finish the rest. Unreadable files are reported and the batch goes on; the exit code is 1 when any file failed.
See docs/inference.md.

Examples:
  python scripts/tiled_infer.py -i delivery/ -o enhanced/ --model net_g_latest.pth --opt options/nafnet_demo.yml
  python scripts/tiled_infer.py -i IMG_0042.JPG -o out/ --model NAFNet-SIDD-width32.pth --width 32
  python scripts/tiled_infer.py -i delivery/ -o enhanced/ --backend onnxruntime --model nafnet.onnx
  torchrun --nproc_per_node 4 scripts/tiled_infer.py -i delivery/ -o enhanced/ --model ... --skip-existing
      (the photos shared among 4 processes, one per GPU; docs/serving.md)
"""
import argparse
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

# the flags come from this file alone, loaded by path: the package (torch, basicsr) loads once the arguments parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/cli_flags.py'))


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', required=True, help='a photo or a folder (searched recursively)')
    parser.add_argument('-o', '--output', required=True, help='output folder, outside the input tree')
    parser.add_argument('--model', help='checkpoint (.pth: params/params_ema/bare/official), an experiment folder '
                        '(its models/net_g_best.pth, else net_g_latest.pth) or, with --backend onnxruntime, an .onnx '
                        'file from scripts/export_onnx.py')
    parser.add_argument('--backend', choices=['torch', 'onnxruntime'], default='torch')
    FLAGS.add_network_args(parser)
    run = FLAGS.add_running_args(parser)
    run.add_argument('--workers', type=int, default=2, help='decode/encode threads (default: 2)')
    run.add_argument('--prefetch', type=int, default=2, help='photos decoded ahead / encodes queued (default: 2)')
    FLAGS.add_postprocess_args(parser)
    out = parser.add_argument_group('output')
    out.add_argument('--format', choices=FLAGS.OUTPUT_FORMATS, default='jpeg',
                     help='jpeg (default; 4:4:4, photos with alpha go to PNG), png, or same as the input')
    out.add_argument('--quality', type=int, default=95, help='JPEG/WebP quality (default: 95)')
    out.add_argument('--suffix', default='', help="added to each output's stem, e.g. _edit (default: none)")
    out.add_argument('--skip-existing', action='store_true', help='leave photos whose output exists')
    out.add_argument('--overwrite', action='store_true',
                     help='replace existing files of the planned names in an output folder tiled_infer did not '
                     'create (in its own folder it replaces its outputs anyway)')
    out.add_argument('--dry-run', action='store_true', help='list what would be written, load nothing')
    out.add_argument('-v', '--verbose', action='store_true', help='log colour conversions and each output')
    parser.add_argument('--launcher', choices=FLAGS.LAUNCHERS, default=None,
                        help='share the photos among processes: pytorch (torchrun; the default when torchrun '
                        'started several), slurm (srun, one task per GPU), none (default otherwise)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from realestate_sr.inference.delivery import deliver  # the package (torch, basicsr) loads once the flags parse

    return deliver(args)


if __name__ == '__main__':
    # whatever else prints a path (argparse, a traceback) must not die on a name that is not UTF-8
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors='backslashreplace')
    sys.exit(main())
