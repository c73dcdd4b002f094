"""Static packaging metadata: nothing here imports torch or runs project code."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name):
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


def read_version():
    """``__version__`` of the package, read from its file as text: the package itself is not imported."""
    match = re.search(r"^__version__ = '([^']+)'$", (HERE / 'realestate_sr' / '__init__.py').read_text(), re.M)
    if not match:
        raise RuntimeError("realestate_sr/__init__.py has no line __version__ = '...'")
    return match.group(1)


setup(
    name='realestate_sr',
    version=read_version(),
    description='Learn the editing style of real-estate photo editors: a BasicSR plugin with NAFNet',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    license_files=['LICENSE'],  # the full Apache-2.0 text
    packages=find_packages(include=['realestate_sr', 'realestate_sr.*']),
    python_requires='>=3.10,<3.13',
    install_requires=['torch', 'torchvision', 'basicsr==1.4.2'] + read_requirements('requirements.txt'),
    extras_require={'test': read_requirements('requirements-test.txt')},
    classifiers=[
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
    ],
)
