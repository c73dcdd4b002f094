"""Train from a YAML option file: python realestate_sr/train.py -opt options/nafnet_gb10.yml [--auto_resume] [--debug]

Arguments are BasicSR's: -opt, --launcher {none,pytorch,slurm}, --auto_resume, --debug, --force_yml key:sub=value
(key:sub=~ deletes the key). Exit code 2 and one message, no traceback, when the option file has a key nothing reads
or CUDA settings without CUDA, weights are missing, -opt names no file, a checkpoint is a training state, an ONNX
export or of another layout, or the launch environment is wrong; other errors keep their traceback.
"""
import runpy
import sys
from pathlib import Path

if __name__ == '__main__':  # glibc reads its malloc settings only at start-up: re-exec before torch loads
    runpy.run_path(str(Path(__file__).resolve().parent / 'utils' / 'malloc_tuning.py'), run_name='__main__')

# run from a checkout without installing; replacing (not prepending) keeps realestate_sr/data etc. from
# shadowing top-level modules named data, models, utils
sys.path[0] = str(Path(__file__).resolve().parents[1])

from realestate_sr.training import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
