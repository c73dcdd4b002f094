"""docs/extending.md's claim: a new architecture or a new loss is one file dropped into its folder.

A copy of the package gets ``probe_arch.py`` and ``probe_loss.py`` and nothing else; a fresh interpreter that
imports that copy must register both, build them from an option dict as training does, and check their keys at
start-up like any shipped class (a misspelt key is named).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE_ARCH = '''
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class ProbeNet(nn.Module):
    """A 3x3 convolution added to its input. YAML keys (network_g): type, width."""

    def __init__(self, width=4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.Conv2d(width, 3, 1))

    def forward(self, x):
        return x + self.body(x)
'''

PROBE_LOSS = '''
import torch
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class ProbeLoss(nn.Module):
    """Charbonnier distance. YAML keys (any train.*_opt block): type, loss_weight, eps."""

    def __init__(self, loss_weight=1.0, eps=1e-3):
        super().__init__()
        self.loss_weight, self.eps = loss_weight, eps

    def forward(self, pred, target):
        return self.loss_weight * torch.sqrt((pred - target) ** 2 + self.eps ** 2).mean()
'''

CHILD = textwrap.dedent('''
    import json, sys
    import torch
    import realestate_sr
    from realestate_sr.models.option_checks import training_option_problems
    from realestate_sr.options import read_option_file
    from basicsr.archs import build_network
    from basicsr.losses import build_loss

    opt = read_option_file(sys.argv[1]).options
    opt['network_g'] = {'type': 'ProbeNet', 'width': 6}
    opt['train']['pixel_opt'] = {'type': 'ProbeLoss', 'loss_weight': 1.0, 'eps': 0.001}
    clean = training_option_problems(opt, cuda_available=False)
    net, loss = build_network(dict(opt['network_g'])), build_loss(dict(opt['train']['pixel_opt']))
    x = torch.rand(1, 3, 16, 16)
    value = loss(net(x), x)
    value.backward()
    opt['network_g']['widht'] = 6
    misspelt = training_option_problems(opt, cuda_available=False)
    print(json.dumps({'package': realestate_sr.__file__, 'clean': clean, 'misspelt': misspelt,
                      'loss': float(value), 'grad': float(net.body[0].weight.grad.abs().sum())}))
''')


def test_a_new_architecture_and_a_new_loss_are_one_file_each(tmp_path):
    package = tmp_path / 'realestate_sr'
    shutil.copytree(REPO / 'realestate_sr', package, ignore=shutil.ignore_patterns('__pycache__'))
    (package / 'archs' / 'probe_arch.py').write_text(PROBE_ARCH, encoding='utf-8')
    (package / 'losses' / 'probe_loss.py').write_text(PROBE_LOSS, encoding='utf-8')
    env = dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS='1')
    recipe = str(REPO / 'options' / 'nafnet_demo.yml')
    done = subprocess.run([sys.executable, '-c', CHILD, recipe], env=env, cwd=tmp_path,  # cwd: '' on sys.path
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result['package']).parent == package  # the copy ran, not the installed package
    assert result['clean'] == []
    assert result['loss'] > 0 and result['grad'] > 0
    assert any("'widht'" in line and 'network_g' in line for line in result['misspelt']), result['misspelt']
