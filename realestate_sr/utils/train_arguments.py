"""The command line of ``realestate_sr/train.py``: BasicSR's arguments, documented.

Nothing but argparse here: train.py runs this file by path to answer ``--help`` and usage errors before
torch and basicsr load (seconds); ``realestate_sr.training`` parses the same arguments again to train.
"""
import argparse

EPILOG = '''examples:
  python realestate_sr/train.py -opt options/nafnet_gb10.yml
  python realestate_sr/train.py -opt options/nafnet_gb10.yml --auto_resume
  python realestate_sr/train.py -opt options/nafnet_gb10.yml --force_yml train:total_iter=1000 val:metrics:lpips=~
  torchrun --nproc_per_node 4 realestate_sr/train.py -opt options/nafnet_gb10.yml --launcher pytorch --auto_resume

Outputs go to experiments/<name>/ (checkpoints, training states, log, the option file as given and as
resolved) and tb_logger/<name>/. Ctrl-C or SIGTERM saves the current iteration and prints the command that
resumes (exit code 130 / 143); a second Ctrl-C stops at once. Exit code 2 with one message for a mistake
found at start-up (option file, weights, launch environment). See README.md, "Train".'''


def argument_parser():
    parser = argparse.ArgumentParser(
        prog='realestate_sr/train.py', epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description='Train a network from a YAML option file (BasicSR options plus the keys of README.md).')
    parser.add_argument('-opt', type=str, required=True, metavar='OPTION_FILE',
                        help='the YAML option file; relative paths inside it are relative to the repository root')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='none: one process (default); pytorch: under torchrun, one process per GPU; '
                             'slurm: under srun (docs/distributed.md)')
    parser.add_argument('--auto_resume', action='store_true',
                        help="continue from the newest experiments/<name>/training_states/<iter>.state that loads "
                             "(with its models/net_g_<iter>.pth); starts afresh when there is none")
    parser.add_argument('--debug', action='store_true',
                        help='a quick check of the pipeline: name prefixed debug_, losses every iteration, '
                             'checkpoints and validation every 8, no tensorboard')
    parser.add_argument('--local_rank', type=int, default=0, help=argparse.SUPPRESS)  # old torch.distributed.launch
    parser.add_argument('--force_yml', nargs='+', default=None, metavar='KEY=VALUE',
                        help='override options without editing the file: a:b=value sets option a.b '
                             '(e.g. train:total_iter=1000, train:ema_decay=0.999), a:b=~ deletes it '
                             '(e.g. val:metrics:lpips=~)')
    return parser
