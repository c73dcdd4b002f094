"""Fixtures of the data tests: tiny synthetic pair sets (a few pairs of a few dozen pixels)."""
import pytest

from tests.test_data.synthetic_pairs import make_pair_set


@pytest.fixture
def pair_set(tmp_path):
    return make_pair_set(tmp_path / 'pairs')
