#!/usr/bin/env python
"""The demo, end to end on a laptop CPU: build the embedded demo pairs, train a small model, evaluate it.

1. scripts/make_demo_data.py      -> datasets/demo/ (skipped when it exists)
2. realestate_sr/train.py -opt options/demo.yml   -> experiments/<name>/ (resumes when interrupted); the
   benchmark's best recipe, a whole-photo bilateral grid + LUT (docs/benchmark.md). The NAFNet demo:
   --opt options/nafnet_demo.yml
3. scripts/evaluate.py on the validation pairs: input (identity), auto_correct baseline and model, with the
   report and before/after/target images under results/demo/

Run it with `make demo`, which installs the environment first.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def run_step(title, command):
    print(f'\n=== {title}\n$ {" ".join(str(c) for c in command)}', flush=True)
    start = time.time()
    subprocess.run([str(c) for c in command], cwd=REPO, check=True)
    return time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--opt', default='options/demo.yml', help='training options (default: %(default)s)')
    parser.add_argument('--out', default='results/demo', help='evaluation report folder (default: %(default)s)')
    args = parser.parse_args(argv)

    opt_path = REPO / args.opt
    opt = yaml.safe_load(opt_path.read_text())
    val = opt['datasets']['val']
    checkpoint = REPO / 'experiments' / opt['name'] / 'models' / 'net_g_latest.pth'
    python = sys.executable
    timings = {
        'data': run_step('1/3 demo pairs', [python, 'scripts/make_demo_data.py', '-o',
                                            opt['datasets']['train']['dataroot']]),
        'train': run_step('2/3 training', [python, 'realestate_sr/train.py', '-opt', opt_path, '--auto_resume']),
        # evaluate.py tiles (and uses TLC) as the option file's val block says, so the numbers agree with the
        # training log; LPIPS needs AlexNet weights a fresh machine does not have
        'evaluate': run_step('3/3 evaluation', [
            python, 'scripts/evaluate.py', '--model', checkpoint, '--opt', opt_path, '--pairs', val['meta_file'],
            '--root', val['dataroot'], '--skip-lpips', '--overwrite', '-o', args.out]),
    }
    total = sum(timings.values())
    print(f'\ndemo done in {total / 60:.1f} min ({", ".join(f"{k} {v:.0f} s" for k, v in timings.items())}); '
          f'checkpoint {checkpoint.relative_to(REPO)}; report {args.out}/report.html')
    return 0


if __name__ == '__main__':
    sys.exit(main())
