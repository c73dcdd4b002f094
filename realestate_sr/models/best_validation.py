"""Which validation result picks ``models/net_g_best.pth``, and when training stops for lack of progress.

Read from the option file's ``val.best`` block (absent: no best checkpoint, no early stopping)::

    val:
      best:
        metric: psnr      # a name under val.metrics (default: the first); its ``better`` (higher | lower) decides
        dataset: ~        # the validation set (its datasets.val*.name; default: the first)
        patience: ~       # stop after this many validations in a row without a better value; ~: never

A value is better only when strictly so: a metric that stays put counts as no improvement, and NaN never
improves. The record lives in the training state (``best_validation``), so a resumed run knows the best so far.
"""
import math
from dataclasses import asdict, dataclass

BEST_KEYS = ('metric', 'dataset', 'patience')


def val_dataset_names(opt):
    """The ``name`` of each validation set, in the order the training builds them (``datasets.val*``)."""
    return [dataset.get('name') for phase, dataset in (opt.get('datasets') or {}).items()
            if isinstance(dataset, dict) and phase.split('_')[0] == 'val']


def best_option_problems(opt):
    """One line per mistake in ``val.best`` (an unknown metric or data set, a patience that is no positive
    integer); empty when it is absent or right. Unknown keys are option_checks' business."""
    val = opt.get('val') if isinstance(opt.get('val'), dict) else {}
    best = val.get('best')
    if best is None:
        return []
    if not isinstance(best, dict):
        return [f'val.best: a block {{metric, dataset, patience}} (each may be left out), not {best!r}']
    problems = []
    metrics = list(val.get('metrics') or {})
    if not metrics:
        problems.append('val.best needs val.metrics: the best checkpoint is the one with the best metric value')
    elif best.get('metric') is not None and best['metric'] not in metrics:
        problems.append(f"val.best.metric: '{best['metric']}' is not one of val.metrics ({', '.join(metrics)})")
    datasets = val_dataset_names(opt)
    if best.get('dataset') is not None and best['dataset'] not in datasets:
        known = ', '.join(str(name) for name in datasets) or 'none'
        problems.append(f"val.best.dataset: '{best['dataset']}' is not the name of a validation set ({known})")
    patience = best.get('patience')
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        problems.append(f'val.best.patience: {patience!r}; give a number of validations >= 1, or ~ for no early '
                        'stopping')
    return problems


@dataclass
class BestValidation:
    """The best value so far of one metric on one validation set, and the validations since it.

    ``iter`` and ``value`` are None until the first validation.
    """
    metric: str
    dataset: str
    better: str = 'higher'
    patience: int = None
    iter: int = None
    value: float = None
    validations_since: int = 0

    @classmethod
    def from_options(cls, opt):
        """The tracker ``val.best`` asks for (defaults filled in), or None without that block. Assumes
        ``best_option_problems(opt)`` found nothing."""
        val = opt.get('val') or {}
        best = val.get('best')
        if best is None or not val.get('metrics'):
            return None
        metric = best.get('metric') or next(iter(val['metrics']))
        # without named validation sets (a model built outside training), the first one validated
        dataset = best.get('dataset') or next(iter(val_dataset_names(opt)), None)
        return cls(metric=metric, dataset=dataset, better=val['metrics'][metric].get('better', 'higher'),
                   patience=best.get('patience'))

    def is_better(self, value):
        """Whether ``value`` beats the best so far (strictly; NaN never does)."""
        if math.isnan(value):
            return False
        if self.value is None:
            return True
        return value > self.value if self.better == 'higher' else value < self.value

    def update(self, iteration, value):
        """Take the validation of ``iteration``; True when it is the new best."""
        value = float(value)
        if self.is_better(value):
            self.iter, self.value, self.validations_since = int(iteration), value, 0
            return True
        self.validations_since += 1
        return False

    def patience_exhausted(self):
        """Whether ``patience`` validations in a row brought no better value."""
        return self.patience is not None and self.validations_since >= self.patience

    def record(self):
        """What net_g_best.pth keeps under its ``best`` key: plain values (a weights_only load reads them)."""
        return {'iter': self.iter, 'metric': self.metric, 'value': self.value, 'dataset': self.dataset}

    def describe(self):
        """``psnr 24.3100 on val_set at iter 400`` (``no validation yet`` before the first)."""
        if self.iter is None:
            return f'{self.metric} on {self.dataset}: no validation yet'
        return f'{self.metric} {self.value:.4f} on {self.dataset} at iter {self.iter}'

    def state(self):
        """The record for the training state (plain values)."""
        return asdict(self)

    def resume(self, state, saved_record=None):
        """Take the best so far from a training ``state`` (``state()`` of an earlier run), and from the ``best``
        record of the net_g_best.pth already written (``saved_record``) when it is better: the periodic save comes
        before the validation of the same iteration, so a state can predate the best file.

        A state or file that tracked another metric or data set is ignored (the option file changed)."""
        if state and state.get('metric') == self.metric and state.get('dataset') == self.dataset \
                and state.get('value') is not None:
            self.iter, self.value = int(state['iter']), float(state['value'])
            self.validations_since = int(state.get('validations_since', 0))
        if saved_record and saved_record.get('metric') == self.metric and saved_record.get('dataset') == self.dataset \
                and saved_record.get('value') is not None and self.is_better(float(saved_record['value'])):
            self.iter, self.value, self.validations_since = int(saved_record['iter']), float(saved_record['value']), 0
