"""Finished pieces of a benchmark run: one JSON file per recipe, task, fold, seed, budget and training-photo
count (or per task for the reference rows), so that a run can be split over sittings and merged.

A piece holds what its table cells need: per scored pair its task, capture family, photo, variant and fold,
and per row (the recipe's, or input / auto_correct / the oracles) the pair's metrics; its cost; the settings
it was made with. A piece is reused when a later run asks for the same key with the same settings.
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from realestate_sr.utils.output_safety import atomic_write

PIECES_DIR = 'pieces'
REFERENCES = 'references'


@dataclass(frozen=True)
class PieceKey:
    """Which piece: ``recipe`` (an option file's stem, or ``references``), ``task`` (a house style), ``split``,
    ``fold``, ``seed``, ``budget`` and ``train_photos`` (None: all of the fold's training photos)."""
    recipe: str
    task: str
    split: str = 'test'
    fold: int = 0
    seed: int = 0
    budget: str = 'demo'
    train_photos: int = None

    def file_name(self):
        if self.recipe == REFERENCES:
            return f'{REFERENCES}__{self.task}.json'
        photos = 'all' if self.train_photos is None else self.train_photos
        return (f'{self.recipe}__{self.task}__{self.split}{self.fold}__seed{self.seed}__{self.budget}'
                f'__photos-{photos}.json')

    def as_dict(self):
        return asdict(self)


def piece_path(out_dir, key):
    return Path(out_dir) / PIECES_DIR / key.file_name()


def write_piece(out_dir, key, document):
    """Write one finished piece (atomically: a killed run leaves the previous piece or none)."""
    document = {'key': key.as_dict(), **document}
    return atomic_write(piece_path(out_dir, key), (json.dumps(document, indent=1) + '\n').encode('utf-8'))


def reusable_piece(out_dir, key, settings):
    """The stored piece of ``key`` when it was made with ``settings``; None otherwise."""
    path = piece_path(out_dir, key)
    try:
        document = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError):
        return None
    return document if document.get('settings') == settings else None


def read_pieces(folders):
    """Every piece under ``<folder>/pieces/`` of each folder; a later folder's piece replaces an earlier one with
    the same key. Returns a list of documents."""
    pieces = {}
    for folder in folders:
        directory = Path(folder) / PIECES_DIR
        if not directory.is_dir():
            raise FileNotFoundError(f'{folder} holds no benchmark pieces ({PIECES_DIR}/ is missing)')
        for path in sorted(directory.glob('*.json')):
            document = json.loads(path.read_text(encoding='utf-8'))
            pieces[path.name] = document
    return list(pieces.values())
