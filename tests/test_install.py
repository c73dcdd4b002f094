"""The package makes stock basicsr 1.4.2 importable and registers our classes."""
import subprocess
import sys


def run_fresh(code):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)


def test_basicsr_fails_without_our_alias_on_this_torchvision():
    # guards the premise: if torchvision brings the module back, the alias becomes a no-op
    result = run_fresh('import torchvision.transforms.functional_tensor')
    assert result.returncode != 0 and 'functional_tensor' in result.stderr


def test_import_realestate_sr_makes_basicsr_import_and_registers_our_names():
    code = (
        'import realestate_sr, basicsr\n'
        'from basicsr.data import degradations\n'
        'from basicsr.utils.registry import ARCH_REGISTRY\n'
        'assert "NAFNet" in ARCH_REGISTRY and "NAFNetLocal" in ARCH_REGISTRY\n'
        'print(degradations.rgb_to_grayscale.__module__)\n')
    result = run_fresh(code)
    assert result.returncode == 0, result.stderr
    assert 'functional_tensor' in result.stdout
