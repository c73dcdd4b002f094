#!/usr/bin/env python
"""Training speed of EnhanceModel on this machine: one table of iterations/s per width and batch size.

Each row builds the real EnhanceModel (NAFNet, SIDD layout by default: enc 2,2,4,8 / middle 12 / dec 2,2,2,2),
feeds random patches and times ``optimize_parameters`` (forward, L1 loss, backward, AdamW step, EMA).
The first iterations warm up and are not timed. Nothing is asserted: the machine is measured as it is.

Example: python scripts/speed_train.py --widths 16 32 64 --batches 1 4 --patch 256
"""
import argparse
import runpy
import statistics
import sys
import time
from pathlib import Path

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(f'{Path(__file__).resolve().parents[1]}/realestate_sr/utils/malloc_tuning.py', run_name='__main__')

import torch

from realestate_sr.models.enhance_model import EnhanceModel


def bench_opt(width, device, bf16, blocks):
    enc, middle, dec = blocks
    return {
        'name': 'bench', 'model_type': 'EnhanceModel', 'scale': 1, 'num_gpu': 1 if device == 'cuda' else 0,
        'dist': False, 'rank': 0, 'world_size': 1, 'is_train': True,
        'network_g': {'type': 'NAFNet', 'width': width, 'enc_blk_nums': enc, 'middle_blk_num': middle,
                      'dec_blk_nums': dec},
        'path': {'pretrain_network_g': None},
        'train': {'ema_decay': 0.999, 'bf16': bf16, 'optim_g': {'type': 'AdamW', 'lr': 1e-4},
                  'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [10], 'restart_weights': [1]},
                  'pixel_opt': {'type': 'PixelL1Loss'}},
    }


def forward_backward(model):
    """Forward, loss and backward only (no optimizer step, no EMA), as the official NAFNet timings."""
    with model.autocast():
        loss, _ = model.compute_losses(model.net_g(model.lq), model.gt)
    loss.backward()


def time_iterations(model, batch, patch, device, warmup, iters, fwd_bwd_only):
    data = {'lq': torch.rand(batch, 3, patch, patch), 'gt': torch.rand(batch, 3, patch, patch)}
    model.feed_data(data)
    times = []
    for step in range(warmup + iters):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        if fwd_bwd_only:
            forward_backward(model)
        else:
            model.optimize_parameters(step + 1)
        if device == 'cuda':
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--widths', type=int, nargs='+', default=[16, 32, 64])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--patch', type=int, default=256)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto')
    parser.add_argument('--bf16', action='store_true', help='autocast in bfloat16 (as train.bf16)')
    parser.add_argument('--fwd-bwd-only', action='store_true', help='time forward+loss+backward without the optimizer')
    parser.add_argument('--enc', type=int, nargs='+', default=[2, 2, 4, 8])
    parser.add_argument('--middle', type=int, default=12)
    parser.add_argument('--dec', type=int, nargs='+', default=[2, 2, 2, 2])
    args = parser.parse_args(argv)

    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' else args.device
    name = torch.cuda.get_device_name() if device == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    step = 'forward+backward' if args.fwd_bwd_only else 'training step (fwd, bwd, AdamW, EMA)'
    print(f'# EnhanceModel {step}, NAFNet enc {args.enc} / middle {args.middle} / dec {args.dec}, '
          f'{args.patch}x{args.patch} patches, {"bf16" if args.bf16 else "fp32"}, {name}')
    print('| width | params (M) | batch | s / iter | iters / s | patches / s |')
    print('|---|---|---|---|---|---|')
    for width in args.widths:
        model = EnhanceModel(bench_opt(width, device, args.bf16, (args.enc, args.middle, args.dec)))
        params = sum(p.numel() for p in model.net_g.parameters()) / 1e6
        for batch in args.batches:
            seconds = time_iterations(model, batch, args.patch, device, args.warmup, args.iters, args.fwd_bwd_only)
            print(f'| {width} | {params:.2f} | {batch} | {seconds:.3f} | {1 / seconds:.3f} | {batch / seconds:.2f} |',
                  flush=True)
        del model
    return 0


if __name__ == '__main__':
    sys.exit(main())
