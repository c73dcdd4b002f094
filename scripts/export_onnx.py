#!/usr/bin/env python
"""Export a checkpoint of any registered network (NAFNet, the whole-photo grid and LUT models) to ONNX (opset >= 17,
dynamic batch/height/width) and check it with ONNX Runtime.

The check runs PyTorch and ONNX Runtime (CPU) on random inputs of several sizes and prints the largest
absolute difference. The graph is written to a temporary name and renamed to OUT only when the difference is
within --tolerance; otherwise nothing is written (an existing OUT stays as it was) and the exit code is 1.
OUT may not be the checkpoint, the option file, a folder or an existing file not named .onnx (exit code 2).
Run the result with `scripts/tiled_infer.py --backend onnxruntime --model OUT.onnx`, or build a TensorRT engine
from it on a GPU box (docs/inference.md).

A whole-photo network exports as two parts (thumbnail -> edit, photo band -> output) that ONNX Runtime runs on
whole photos in bands (realestate_sr/inference/onnx_runner.py).

For NAFNet the graph is the network that scripts/tiled_infer.py and scripts/evaluate.py run with the same flags: TLC
follows --opt's val.tlc (else on), --tlc/--no-tlc win. When TLC acts at the tile size, NAFNetLocal is exported;
tracing freezes its window branch, so that graph accepts only inputs whose sides are at least the TLC window
(1.5 x the training patch, e.g. 384 px for 256 px patches) and tiled_infer refuses smaller ones with a clear
error. When TLC would compute what plain NAFNet does at the tile size (the window covers every tile), the
plain graph is exported, which is the same computation and runs on any size.

Example: python scripts/export_onnx.py --model net_g_latest.pth --opt options/nafnet_demo.yml -o nafnet.onnx
"""
import argparse
import dataclasses
import runpy
import sys
import time
from pathlib import Path
from types import SimpleNamespace

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

# the flags come from this file alone, loaded by path: the package (torch, basicsr) loads once the arguments parse
FLAGS = SimpleNamespace(**runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/cli_flags.py'))


def check_output(output, model, opt):
    """Refuse an output that is the checkpoint or option file, a folder, or an existing file that is no ONNX
    graph (another checkpoint, say): the export replaces OUT whole."""
    from realestate_sr.utils.output_safety import UnsafeOutputError, check_clear_of_inputs, check_file_output

    check_file_output(output)
    check_clear_of_inputs(output, [model, opt])
    if Path(output).parent.exists() and not Path(output).parent.is_dir():
        raise UnsafeOutputError(f'output {output}: {Path(output).parent} is a file, not a folder')
    if Path(output).exists() and Path(output).suffix.lower() != '.onnx':
        raise UnsafeOutputError(f'output {output} exists and is not an .onnx file; nothing was written: '
                                'choose another output path')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', help='checkpoint: BasicSR params/params_ema, official release or bare state_dict; '
                        'or an experiment folder (its models/net_g_best.pth, else net_g_latest.pth)')
    parser.add_argument('--random-weights', action='store_true',
                        help='export a randomly initialised network instead of --model (for tests and benchmarks)')
    parser.add_argument('-o', '--output', required=True, help='the .onnx file to write')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset, >= 17 (default: 17)')
    parser.add_argument('--tolerance', type=float, default=1e-3, help='largest accepted |torch - onnx| (default 1e-3)')
    FLAGS.add_network_args(parser)
    parser.add_argument('--tile-size', type=int, default=None,
                        help='the tile size the graph will run at (default: --opt val.tile, else '
                        f'{FLAGS.TILE_DEFAULTS["size"]}; 0: whole photos): decides whether TLC acts')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.model and not args.random_weights:
        parser.error('give --model CKPT (or --random-weights, visibly, for tests)')

    from realestate_sr.archs.nafnet_arch import NAFNetLocal
    from realestate_sr.archs.whole_photo_ops import is_whole_photo
    from realestate_sr.inference import network_args
    from realestate_sr.inference.enhancer import Enhancer, network_to_run, tlc_note
    from realestate_sr.inference.onnx_export import export_onnx, tlc_min_side
    from realestate_sr.inference.onnx_runner import load_onnx_session, max_onnx_difference
    from realestate_sr.utils.output_safety import UnsafeOutputError, atomic_write, temp_path_for
    from realestate_sr.utils.wording import one_line

    try:
        network_args.resolve_model_args(args)
        check_output(args.output, args.model, args.opt)
    except (UnsafeOutputError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    started = time.perf_counter()
    try:
        # the export traces on the CPU in float32: precision and device are the runner's business
        checkpoint = None if args.random_weights else args.model
        settings = dataclasses.replace(network_args.settings_from_args(args, checkpoint), device='cpu',
                                       precision='fp32', channels_last=False)
        network_opt = network_args.network_opt_from_args(args, checkpoint)
        if tlc_note(network_opt, settings):
            # NAFNetLocal on tiles inside its window computes plain NAFNet: export that, valid at any size
            settings = dataclasses.replace(settings, tlc=False)
            print('TLC has no effect at this tile size (its window covers every tile): exporting plain NAFNet, '
                  'the same computation')
        enhancer = Enhancer.from_checkpoint(network_opt, checkpoint, settings, param_key=args.param_key)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f'error: cannot load the network: {one_line(err)}', file=sys.stderr)
        return 2
    net = enhancer.net
    min_side = tlc_min_side(net.train_size) if isinstance(net, NAFNetLocal) else 0
    network_opt = network_to_run(network_opt, settings)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    existed = output.exists()
    # export to a temporary sibling and check it there: OUT appears only complete and within tolerance
    staging = temp_path_for(output).with_suffix('.onnx')
    try:
        export_onnx(net, staging, opset=args.opset, min_side=min_side, network_opt=network_opt)
        session = load_onnx_session(staging, 'cpu')
        side = max(64, min_side)
        sizes = ((1, 3, side, side), (2, 3, side + 8, side + 40), (1, 3, side + 33, side + 17))
        # whole-photo graphs run in bands: small ones here, so that every size spans several
        # whole-photo graphs take the edit strength: checked at a partial one too
        strengths = (1.0, 0.5) if is_whole_photo(net) else (1.0, )
        difference = max(max_onnx_difference(net, session, sizes, band_pixels=side * side // 3, strength=strength)
                         for strength in strengths)
        ok = difference <= args.tolerance
        if ok:
            atomic_write(output, staging.read_bytes())
    finally:
        staging.unlink(missing_ok=True)
    at_strengths = f' and strengths {", ".join(f"{value:g}" for value in strengths)}' if len(strengths) > 1 else ''
    print(f'max |PyTorch - ONNX Runtime| over sizes {[s[2:] for s in sizes]}{at_strengths}: {difference:.3g} '
          f'({"ok" if ok else "ABOVE"} tolerance {args.tolerance:g})')
    if not ok:
        kept = ' (existing file unchanged)' if existed else ''
        print(f'not written: {output}{kept} (the exported graph does not match PyTorch)')
        return 1
    print(f'exported {type(net).__name__} to {output} (opset {args.opset}, dynamic batch/height/width'
          f'{f", sides >= {min_side}" if min_side else ""}) in {time.perf_counter() - started:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
