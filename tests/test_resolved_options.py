"""experiments/<name>/options_resolved.yml: the options a run trains with, --force_yml applied and deletions
made, beside BasicSR's copy of the file as given."""
import sys

import pytest
import yaml

from realestate_sr import training
from tests.training_options import write_held_out_pairs, write_tiny_training_options


def test_the_resolved_option_file_has_force_yml_applied_and_deleted_keys_gone(tmp_path, experiment_name):
    write_held_out_pairs(tmp_path / 'data', 3, (64, 64))
    opt_path = write_tiny_training_options(tmp_path / 'tiny.yml', experiment_name, tmp_path / 'data', 4)
    argv = ['train.py', '-opt', str(opt_path), '--force_yml', 'train:total_iter=8', 'logger:wandb=~']
    opt, args = training.parse_and_check_options(str(tmp_path), argv)
    (tmp_path / 'experiments' / opt['name']).mkdir(parents=True)

    path = training.write_resolved_options(opt, args)
    assert path == str(tmp_path / 'experiments' / experiment_name / 'options_resolved.yml')
    resolved = yaml.safe_load(open(path, encoding='utf-8'))
    given = yaml.safe_load(opt_path.read_text())
    assert resolved['train']['total_iter'] == 8 and given['train']['total_iter'] == 4
    assert 'wandb' not in resolved['logger'] and 'wandb' in given['logger']
    assert resolved['manual_seed'] == opt['manual_seed']
    # the file's own form: nothing the run derives (rank, paths of the experiment, dataset phases)
    assert {key: value for key, value in resolved.items() if key not in ('train', 'logger')} == \
        {key: value for key, value in given.items() if key not in ('train', 'logger')}
    assert open(path, encoding='utf-8').readline() == f'# {opt_path}\n'


def test_the_run_reads_its_option_file_once(tmp_path, experiment_name):
    write_held_out_pairs(tmp_path / 'data', 3, (64, 64))
    opt_path = write_tiny_training_options(tmp_path / 'tiny.yml', experiment_name, tmp_path / 'data', 4)
    opt, args = training.parse_and_check_options(str(tmp_path), ['train.py', '-opt', str(opt_path)])
    (tmp_path / 'experiments' / opt['name']).mkdir(parents=True)
    text = opt_path.read_text()
    assert 'total_iter: 4\n' in text
    opt_path.write_text(text.replace('total_iter: 4\n', 'total_iter: 99\n'))  # edited during the run

    resolved = yaml.safe_load(open(training.write_resolved_options(opt, args), encoding='utf-8'))
    assert resolved['train']['total_iter'] == opt['train']['total_iter'] == 4
    copy = training.copy_option_file(opt, args)  # BasicSR's copy: its header, then the text this run read
    assert copy == str(tmp_path / 'experiments' / experiment_name / 'tiny.yml')
    lines = open(copy, encoding='utf-8').read().split('\n', 4)
    assert lines[0].startswith('# GENERATE TIME: ') and lines[1:4] == ['# CMD:', f'# {" ".join(sys.argv)}', '']
    assert lines[4] == text
    assert training.copy_option_file({**opt, 'rank': 1}, args) is None  # rank 0 writes it


def test_an_option_file_that_is_not_yaml_is_one_clear_error(tmp_path):
    opt_path = tmp_path / 'broken.yml'
    opt_path.write_text('train: {total_iter: 4\n')
    with pytest.raises(training.OptionFileError, match='broken.yml is not valid YAML'):
        training.parse_and_check_options(str(tmp_path), ['train.py', '-opt', str(opt_path)])
