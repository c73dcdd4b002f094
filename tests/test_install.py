"""The package makes stock basicsr 1.4.2 importable and registers our classes."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_fresh(code):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)


def test_basicsr_fails_without_our_alias_on_this_torchvision():
    # guards the premise: the torchvision we install lacks the module basicsr imports
    result = run_fresh('import torchvision.transforms.functional_tensor')
    assert result.returncode != 0 and 'functional_tensor' in result.stderr


def test_import_realestate_sr_makes_basicsr_import_and_registers_our_names():
    code = (
        'import realestate_sr, basicsr\n'
        'from basicsr.data import degradations\n'
        'from basicsr.utils.registry import (ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY,\n'
        '                                     MODEL_REGISTRY)\n'
        'expected = {ARCH_REGISTRY: ["NAFNet", "NAFNetLocal"], DATASET_REGISTRY: ["PairedListingDataset"],\n'
        '            LOSS_REGISTRY: ["PixelL1Loss", "VGGPerceptualLoss"], MODEL_REGISTRY: ["EnhanceModel"],\n'
        '            METRIC_REGISTRY: ["calculate_lpips", "calculate_l1", "calculate_ciede2000"]}\n'
        'missing = [(r._name, n) for r, names in expected.items() for n in names if n not in r]\n'
        'assert not missing, missing\n'
        'print(degradations.rgb_to_grayscale.__module__)\n')
    result = run_fresh(code)
    assert result.returncode == 0, result.stderr
    assert 'functional_tensor' in result.stdout


def fake_python(folder, version):
    """A ``python3`` that reports ``version``, logs every call and fails anything else (venv, pip)."""
    folder.mkdir()
    log = folder / 'calls.log'
    script = folder / 'python3'
    script.write_text('#!/bin/sh\n'
                      f'echo "$*" >> "{log}"\n'
                      f'case "$*" in *version_info*) echo {version}; exit 0 ;; esac\n'
                      'exit 3\n')
    script.chmod(0o755)
    return folder, log


def run_install(tmp_path, bin_dir):
    env = {**os.environ, 'PATH': f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', 'SKIP_APT': '1'}
    env.pop('PYTHON', None)
    return subprocess.run(['bash', str(REPO / 'scripts' / 'install.sh'), str(tmp_path / 'venv')], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_refuses_an_unsupported_python_before_installing_anything(tmp_path):
    bin_dir, log = fake_python(tmp_path / 'bin', '3.13')
    result = run_install(tmp_path, bin_dir)
    assert result.returncode != 0
    assert 'python3 is Python 3.13; realestate_sr needs Python 3.10-3.12' in result.stderr
    assert 'PYTHON=python3.12' in result.stderr
    assert log.read_text().count('\n') == 1  # the version question only: no venv, no pip
    assert not (tmp_path / 'venv').exists()


def test_install_goes_on_with_a_supported_python(tmp_path):
    bin_dir, log = fake_python(tmp_path / 'bin', '3.12')
    result = run_install(tmp_path, bin_dir)
    assert result.returncode != 0  # the fake cannot make a venv
    assert 'needs Python 3.10-3.12' not in result.stderr
    assert '-m venv' in log.read_text().splitlines()[-1]


def test_setup_reads_the_version_from_the_package_file_without_importing_it(tmp_path):
    # one source: a version written in realestate_sr/__init__.py is the one packaging reports
    for name in ('setup.py', 'README.md', 'requirements.txt', 'requirements-test.txt'):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    (tmp_path / 'realestate_sr').mkdir()
    # a package that cannot be imported: setup.py must only read the file
    (tmp_path / 'realestate_sr' / '__init__.py').write_text("raise ImportError('imported')\n__version__ = '9.8.7'\n")
    result = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '9.8.7'


def test_the_package_metadata_names_the_apache_licence_and_ships_its_text(tmp_path):
    assert 'Apache License' in (REPO / 'LICENSE').read_text() and 'Version 2.0, January 2004' in \
        (REPO / 'LICENSE').read_text()
    for name in ('setup.py', 'README.md', 'requirements.txt', 'requirements-test.txt', 'LICENSE'):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    (tmp_path / 'realestate_sr').mkdir()
    (tmp_path / 'realestate_sr' / '__init__.py').write_text("__version__ = '1.0'\n")
    result = subprocess.run([sys.executable, 'setup.py', 'egg_info'], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    metadata = (tmp_path / 'realestate_sr.egg-info' / 'PKG-INFO').read_text()
    assert 'License-File: LICENSE' in metadata
    assert 'License-Expression: Apache-2.0' in metadata or 'License: Apache-2.0' in metadata
