#!/usr/bin/env python
"""Inference speed and tiling error of NAFNet and the whole-photo networks on one listing-sized photo: one table.

For each NAFNet width: whole-image inference, tiled inference (512 px tiles, overlap 32/64, several tile
batches) through the shared tiler, and ONNX Runtime through the same tiler, per precision. For each
whole-photo network (--whole-photo: ImageAdaptiveLUT, BilateralGridNet, BilateralGridNet + LUT, as in
docs/whole_photo.md; grid-light, the default's network with an 8x8 light map; grid-default, that of
options/demo.yml): one pass through PyTorch and through ONNX Runtime (they run whole photos whatever the tile
settings). Columns: wall seconds per image, process CPU seconds (all threads), megapixels/s, peak memory of the
process (CPU: max RSS; GPU: max allocated), and the PSNR of each output against the whole-image output of the
same network and precision.

Every case runs in a fresh process, so peak memory is per case. NAFNet uses the SIDD layout
(enc 2,2,4,8 / middle 12 / dec 2,2,2,2) with TLC as tiled_infer.py does. The image is generated (smooth
gradients, edges, noise): 3300x2200, or on a CPU by default scaled to 1/4 (825x550) so that the default run
ends in minutes; the table header says which. Weights are random by default (--weights random, labelled in
the header: speed does not depend on them; the PSNR column then measures tiling only).
Nothing is asserted: the machine is measured as it is.

Examples:
  python scripts/speed_infer.py                                   # CPU: widths 32 64 at 1/4 scale
  python scripts/speed_infer.py --scale 1 --widths 32 --modes tiled  # full size, tiled only
  python scripts/speed_infer.py --precisions fp32 bf16 fp16        # on a GPU
  python scripts/speed_infer.py --scale 1 --widths 32 --modes tiled onnx --tile-batches 4   # NAFNet 32 tiled
                                                                  # next to every whole-photo network
"""
import argparse
import json
import math
import os
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

import numpy as np
import torch

from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.inference.enhancer import Enhancer, network_to_run
from realestate_sr.inference.network_args import network_opt_from_flags
from realestate_sr.inference.onnx_export import export_onnx, tlc_min_side
from realestate_sr.inference.settings import InferenceSettings, resolve_device
from realestate_sr.options import read_option_file
from realestate_sr.utils.cli_flags import PRECISIONS
from realestate_sr.utils.malloc_tuning import MALLOC_TUNABLES

FULL_SIZE = (2200, 3300)  # height, width of a listing photo
TILE = 512
TILED_CASES = ((32, 1), (64, 1), (64, 4), (64, 8))  # (overlap, tile batch); a batch runs if in --tile-batches
# the whole-photo networks at their documented defaults (docs/whole_photo.md), by the name rows show
WHOLE_PHOTO_NETWORKS = {
    'lut': {'type': 'ImageAdaptiveLUT', 'num_basis': 3, 'lut_size': 17, 'thumb_size': 256},
    'grid': {'type': 'BilateralGridNet', 'thumb_size': 256},
    'grid+lut': {'type': 'BilateralGridNet', 'thumb_size': 256, 'lut_basis': 3, 'lut_size': 17},
    # the default's network (thumbnail 128) with an 8x8 light map, as the GB10 recipe has one
    'grid-light': {'type': 'BilateralGridNet', 'thumb_size': 128, 'levels': 3, 'gain_cells': 8},
    # the network the default recipes train (options/demo.yml), read from the file
    'grid-default': Path(__file__).resolve().parents[1] / 'options' / 'demo.yml',
}


def listing_like_image(height, width, seed=0):
    """float32 H,W,3 in [0,1]: a lit wall gradient, a few flat 'furniture' blocks with hard edges, sensor noise."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    img = 0.25 + 0.5 * xs * np.array([1.0, 0.95, 0.85], np.float32) + 0.15 * ys
    for _ in range(12):
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        img[y0:y0 + height // 5, x0:x0 + width // 6] = rng.uniform(0.05, 0.95, 3)
    img = img + rng.normal(0, 0.015, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def bench_network(width, weights, seed=0, network=None):
    """NAFNet of ``width`` (TLC form), or the whole-photo network named ``network`` (WHOLE_PHOTO_NETWORKS)."""
    torch.manual_seed(seed)  # every case runs in its own process: same default init everywhere
    if network:
        spec = WHOLE_PHOTO_NETWORKS[network]
        network_opt = read_option_file(spec).network_opt() if isinstance(spec, Path) else dict(spec)
        net = build_inference_network(network_opt, None if weights == 'random' else weights)
        if weights == 'random':
            # they start as the identity: random weights make the grid and LUTs vary (same cost either way)
            generator = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for param in net.parameters():
                    param.add_(torch.randn(param.shape, generator=generator) * 0.02)
        return net, network_opt
    network_opt = network_opt_from_flags('NAFNet', width)
    net = build_inference_network(network_to_run(network_opt, InferenceSettings(tlc=True)),
                                  None if weights == 'random' else weights)
    if weights == 'random':
        # the official init makes every block an identity (beta = gamma = 0): open them up a little
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, param in net.named_parameters():
                if name.endswith(('beta', 'gamma')):
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    return net, network_opt


def run_case(case):
    """Child process: run one case, save the output, return its measurements."""
    torch.set_num_threads(case['threads'] or torch.get_num_threads())
    device = resolve_device(case['device'])
    height, width = case['size']
    rgb = listing_like_image(height, width)
    net, network_opt = bench_network(case['width'], case['weights'], network=case.get('network'))
    settings = InferenceSettings(tile_size=case['tile'] or None, overlap=case['overlap'],
                                 tile_batch=case['tile_batch'], tlc=True, precision=case['precision'],
                                 device=str(device))
    if case['backend'] == 'onnxruntime':
        path = Path(case['workdir']) / f'{case.get("network") or case["width"]}.onnx'
        min_side = 0 if case.get('network') else tlc_min_side()
        export_onnx(net, path, min_side=min_side, network_opt=network_to_run(network_opt, settings))
        enhancer = Enhancer.from_onnx(path, settings)
    else:
        enhancer = Enhancer.from_module(net.to(device), settings)
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    out = np.clip(enhancer.run_photo(rgb), 0, 1)
    if device.type == 'cuda':
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    np.save(case['output'], out.astype(np.float32))
    peak_gb = (torch.cuda.max_memory_allocated() if device.type == 'cuda' else
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**30
    return {'seconds': seconds, 'cpu_seconds': cpu_seconds, 'peak_gb': peak_gb, 'device': str(device)}


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64))**2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def plan_cases(args, device):
    on_gpu = device.type == 'cuda'
    cases = []
    for width in args.widths:
        for precision in args.precisions:
            base = dict(width=width, precision=precision, backend='torch', tile=0, overlap=0, tile_batch=1)
            if 'whole' in args.modes:
                if not on_gpu and width >= 64 and args.scale >= 0.99 and not args.force_whole:
                    cases.append(dict(base, mode='whole', skip='skipped on CPU (~4x the width-32 cost, '
                                      '>15 GB); --force-whole runs it'))
                else:
                    cases.append(dict(base, mode='whole'))
            if 'tiled' in args.modes:
                for overlap, tile_batch in TILED_CASES:
                    if tile_batch in args.tile_batches:
                        cases.append(dict(base, mode='tiled', tile=TILE, overlap=overlap, tile_batch=tile_batch))
            if 'onnx' in args.modes and precision == 'fp32':
                cases.append(dict(base, mode='tiled', backend='onnxruntime', tile=TILE, overlap=64,
                                  tile_batch=max(args.tile_batches)))
    for network in args.whole_photo:
        for precision in args.precisions:
            # one pass whatever the modes say: tiles do not apply to these networks
            base = dict(width=0, network=network, precision=precision, backend='torch', tile=0, overlap=0,
                        tile_batch=1, mode='whole')
            cases.append(base)
            if 'onnx' in args.modes and precision == 'fp32':
                cases.append(dict(base, backend='onnxruntime'))
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--widths', type=int, nargs='*', default=[32, 64], help='NAFNet widths (none: no NAFNet rows)')
    parser.add_argument('--whole-photo', nargs='*', choices=sorted(WHOLE_PHOTO_NETWORKS),
                        default=list(WHOLE_PHOTO_NETWORKS), help='whole-photo networks to time, one pass each '
                        '(default: all; none: NAFNet only)')
    parser.add_argument('--modes', nargs='+', choices=['whole', 'tiled', 'onnx'], default=['whole', 'tiled', 'onnx'])
    parser.add_argument('--tile-batches', type=int, nargs='+', default=None,
                        help='tile batches to time among 1, 4, 8 (default: 1 4 on CPU, 1 4 8 on CUDA)')
    parser.add_argument('--precisions', nargs='+', choices=sorted(PRECISIONS), default=None,
                        help='default: fp32 on CPU; fp32 bf16 fp16 on CUDA')
    parser.add_argument('--scale', type=float, default=None,
                        help='image scale relative to 3300x2200 (default: 1 on CUDA, 1/4 on CPU)')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (default: all)')
    parser.add_argument('--weights', default='random', help="'random' (labelled) or a checkpoint path")
    parser.add_argument('--force-whole', action='store_true', help='run whole-image width-64 at full size on CPU')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # internal: one case, in a child process
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0

    device = resolve_device(args.device)
    args.precisions = args.precisions or (list(PRECISIONS) if device.type == 'cuda' else ['fp32'])
    args.tile_batches = args.tile_batches or ([1, 4, 8] if device.type == 'cuda' else [1, 4])
    # a 2-core CPU needs minutes per width-64 case at full size: 1/4 keeps the default run near 7 minutes
    args.scale = args.scale or (1.0 if device.type == 'cuda' else 1 / 4)
    size = (round(FULL_SIZE[0] * args.scale), round(FULL_SIZE[1] * args.scale))
    megapixels = size[0] * size[1] / 1e6
    cases = plan_cases(args, device)
    env = dict(os.environ, GLIBC_TUNABLES=os.environ.get('GLIBC_TUNABLES', MALLOC_TUNABLES))
    failures = 0
    label = '' if args.scale >= 0.99 else f' (3300x2200 scaled by {args.scale:.3g} for this {device.type.upper()})'
    print(f'NAFNet SIDD layout, TLC; whole-photo networks at their defaults; image {size[1]}x{size[0]}{label}, '
          f'device {device}, {torch.get_num_threads() if not args.threads else args.threads} threads, weights: '
          f'{args.weights}{" (speed only; PSNR measures tiling)" if args.weights == "random" else ""}; '
          f'load average {os.getloadavg()[0]:.1f} at the start')
    print('| network | precision | mode | backend | tile/overlap | tile batch | s/image | CPU s | MP/s | peak mem GB '
          '| PSNR vs whole (dB) |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    with tempfile.TemporaryDirectory(prefix='speed_infer_') as workdir:
        whole_outputs = {}
        for index, case in enumerate(cases):
            tiles = f'{case["tile"]}/{case["overlap"]}' if case['tile'] else 'whole'
            label_of = case.get('network') or f'NAFNet w{case["width"]}'
            row = f'| {label_of} | {case["precision"]} | {case["mode"]} | {case["backend"]} | {tiles} | ' \
                  f'{case["tile_batch"] if case["tile"] else "-"} |'
            if case.get('skip'):
                print(f'{row} - | - | - | - | {case["skip"]} |', flush=True)
                continue
            case.update(size=size, device=str(device), threads=args.threads, weights=args.weights, workdir=workdir,
                        output=str(Path(workdir) / f'case{index}.npy'))
            result = subprocess.run([sys.executable, __file__, '--case', json.dumps(case)], capture_output=True,
                                    text=True, env=env)
            if result.returncode != 0:
                failures += 1
                reason = (result.stderr.strip().splitlines() or ['no output'])[-1][:80]
                print(f'{row} failed | - | - | - | {reason} |', flush=True)
                continue
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            key = (case.get('network') or case['width'], case['precision'])
            output = np.load(case['output'])
            if case['mode'] == 'whole' and key not in whole_outputs:
                whole_outputs[key] = output
                quality = 'reference'
            elif key in whole_outputs:
                quality = f'{psnr(output, whole_outputs[key]):.1f}'
            else:
                quality = 'n/a (no whole run)'
            print(f'{row} {measured["seconds"]:.1f} | {measured["cpu_seconds"]:.1f} | '
                  f'{megapixels / measured["seconds"]:.3f} | '
                  f'{measured["peak_gb"]:.2f} | {quality} |', flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
