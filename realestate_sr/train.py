"""Train from a YAML option file: python realestate_sr/train.py -opt options/nafnet_gb10.yml [--auto_resume] [--debug]

Arguments (``--help`` lists them with examples): -opt, --launcher {none,pytorch,slurm}, --auto_resume, --debug,
--force_yml key:sub=value (key:sub=~ deletes the key). Exit code 2 and one message, no traceback, when the option
file has a key nothing reads or CUDA settings without CUDA, weights are missing, -opt names no file, a checkpoint is a
training state, an ONNX export or of another layout, or the launch environment is wrong; other errors keep their
traceback. SIGINT / SIGTERM save the current iteration and exit 130 / 143.
"""
import runpy
import sys
from pathlib import Path

if __name__ == '__main__':
    HERE = Path(__file__).resolve().parent
    # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(str(HERE / 'utils' / 'malloc_tuning.py'), run_name='__main__')
    # --help and usage errors answer before torch and basicsr load (the package imports both)
    runpy.run_path(str(HERE / 'utils' / 'train_arguments.py'))['argument_parser']().parse_args()
    # python puts this file's folder first on sys.path, where realestate_sr/data, models, utils... would shadow
    # top-level modules of those names; the package itself comes from the installation
    sys.path[:] = [entry for entry in sys.path if Path(entry or '.').resolve() != HERE]

from realestate_sr.training import main

if __name__ == '__main__':
    sys.exit(main())
