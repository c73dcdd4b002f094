#!/usr/bin/env python
"""The demo, end to end on a laptop CPU: the real task in small (one editing house's style learned from amateur
captures of a few photos), trained and scored on photos it never saw.

1. scripts/make_demo_data.py      -> datasets/demo/ (kept when it exists and is current): src = an amateur capture
   of each photo, tar = the photo in the house style ``bright_airy``
2. realestate_sr/train.py -opt options/demo.yml   -> experiments/<name>/ (resumes when interrupted); the
   benchmark's best recipe, a whole-photo bilateral grid (docs/benchmark.md). The NAFNet demo:
   --opt options/nafnet_demo.yml
3. the per-photo global oracle: a 3D LUT fitted on each held-out pair's own target
   (realestate_sr/benchmark/oracle.py ``oracle_lut``), written to results/demo_oracle/oracle_lut/: the best any
   global colour map could do, the ceiling of an auto button or a predicted LUT
4. scripts/evaluate.py on the held-out pairs: input (identity), auto_correct baseline, the oracle
   (``pred:oracle_lut``) and the model, with the report and before/after/target images under results/demo/

Run it with `make demo`, which installs the environment first.
"""
import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = 'run_demo'
ORACLE_LAYOUT = {'images': ('*.png',), 'build_info.json': None}


class StepFailed(RuntimeError):
    """A step's command exited with an error; it has printed its own message."""


def run_step(title, command):
    print(f'\n=== {title}\n$ {" ".join(str(c) for c in command)}', flush=True)
    start = time.time()
    code = subprocess.run([str(c) for c in command], cwd=REPO).returncode
    if code:
        raise StepFailed(f'step {title} failed (exit code {code}): its message is above')
    return time.time() - start


def resume_flags(opt):
    """``['--auto_resume']``, or none when the experiment folder holds a training of another network (an earlier
    default recipe): train.py then starts anew and BasicSR keeps the old folder as <name>_archived_<time>."""
    from realestate_sr.archs.network_loading import read_trained_with
    from realestate_sr.inference.trained_with import same_network

    checkpoints = sorted((REPO / 'experiments' / opt['name'] / 'models').glob('net_g_*.pth'),
                         key=lambda path: path.stat().st_mtime)
    try:
        record = read_trained_with(checkpoints[-1]) if checkpoints else None
    except (OSError, RuntimeError, ValueError):
        record = None
    if record is None or same_network(opt['network_g'], record):
        return ['--auto_resume']
    print(f'{TOOL}: experiments/{opt["name"]} trained another network ({checkpoints[-1].name}); training anew, '
          'the old folder is kept beside it as an _archived_ copy', flush=True)
    return []


def check_oracle_output(out_dir):
    """UnsafeOutputError unless ``out_dir`` is absent, empty or the oracle folder this script wrote."""
    # the package (torch) is imported where it is used, so that --help answers at once
    from realestate_sr.utils.output_safety import check_replaceable, remove_stale_temps

    remove_stale_temps(out_dir, 'partial')
    if out_dir.exists() or out_dir.is_symlink():
        check_replaceable(out_dir, TOOL, ORACLE_LAYOUT)


def write_oracle_outputs(manifest, data_root, out_dir):
    """``oracle_lut`` of every pair of ``manifest`` as a PNG named like its src (``images/x_src.png``), which is
    what evaluate.py's --pred finds; built beside ``out_dir`` and renamed, replacing only a folder this script
    wrote. UnsafeOutputError when ``out_dir`` is anything else."""
    from realestate_sr.benchmark.oracle import oracle_lut
    from realestate_sr.benchmark.oracle_files import read_rgb, write_oracle_png
    from realestate_sr.data.pair_lists import load_manifest
    from realestate_sr.utils.output_safety import replace_folder, temp_sibling, write_info

    out_dir = Path(out_dir)
    check_oracle_output(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = temp_sibling(out_dir, 'partial')
    try:
        pairs = load_manifest(manifest, data_root)
        for pair in pairs:
            edit = oracle_lut(read_rgb(pair.src), read_rgb(pair.tar))
            write_oracle_png((partial / pair.name).with_suffix('.png'), edit)
        write_info(partial, TOOL, oracle='oracle_lut', pairs=str(manifest))
        replace_folder(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return len(pairs)


def run_oracle(manifest, data_root, out_dir):
    print(f'\n=== 3/4 per-photo oracle (a global 3D LUT fitted on each target) -> {out_dir}', flush=True)
    start = time.time()
    count = write_oracle_outputs(manifest, data_root, out_dir)
    print(f'{count} oracle outputs', flush=True)
    return time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--opt', default='options/demo.yml', help='training options (default: %(default)s)')
    parser.add_argument('--out', default='results/demo', help='evaluation report folder (default: %(default)s)')
    parser.add_argument('--oracle-out', default='results/demo_oracle/oracle_lut',
                        help='folder of the oracle\'s outputs (default: %(default)s)')
    args = parser.parse_args(argv)
    from realestate_sr.options import read_option_file
    from realestate_sr.utils.output_safety import UnsafeOutputError

    opt_path = REPO / args.opt
    opt = read_option_file(opt_path).options
    val = opt['datasets']['val']
    checkpoint = REPO / 'experiments' / opt['name'] / 'models' / 'net_g_latest.pth'
    python = sys.executable
    oracle_dir = REPO / args.oracle_out
    try:
        check_oracle_output(oracle_dir)  # before minutes of training, not after
    except UnsafeOutputError as err:
        print(f'run_demo: error: {err}', file=sys.stderr)
        return 2
    try:
        timings = {
            'data': run_step('1/4 demo pairs', [python, 'scripts/make_demo_data.py', '-o',
                                                opt['datasets']['train']['dataroot']]),
            'train': run_step('2/4 training', [python, 'realestate_sr/train.py', '-opt', opt_path,
                                               *resume_flags(opt)]),
        }
        timings['oracle'] = run_oracle(REPO / val['meta_file'], REPO / val['dataroot'], oracle_dir)
        # evaluate.py tiles (and uses TLC) as the option file's val block says, so the numbers agree with the
        # training log; LPIPS needs AlexNet weights a fresh machine does not have
        timings['evaluate'] = run_step('4/4 evaluation', [
            python, 'scripts/evaluate.py', '--model', checkpoint, '--opt', opt_path, '--pairs', val['meta_file'],
            '--root', val['dataroot'], '--pred', oracle_dir, '--skip-lpips', '--overwrite',
            '-o', args.out])
    except (StepFailed, UnsafeOutputError) as err:
        print(f'{TOOL}: error: {err}', file=sys.stderr)
        return 2
    total = sum(timings.values())
    print(f'\ndemo done in {total / 60:.1f} min ({", ".join(f"{k} {v:.0f} s" for k, v in timings.items())}); '
          f'checkpoint {checkpoint.relative_to(REPO)}; report {args.out}/report.html')
    return 0


if __name__ == '__main__':
    sys.exit(main())
