"""EnhanceModel: BasicSR's SRModel with what photo enhancement on modern GPUs needs, and nothing else changed."""
import os
import time
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from torch.nn.parallel import DataParallel, DistributedDataParallel

from realestate_sr.archs.checkpoint import (
    BEST_CHECKPOINT,
    BEST_KEY,
    TRAINED_WITH_KEY,
    CheckpointMismatchError,
    describe_mismatch,
    read_state_dict,
    save_atomically,
    training_state_message,
)
from realestate_sr.archs.network_loading import read_best_record, trained_with_hint
from realestate_sr.inference.enhancer import Enhancer, module_to_run, tlc_note, tlc_warning
from realestate_sr.inference.settings import InferenceSettings
from realestate_sr.inference.trained_with import trained_with_record
from realestate_sr.metrics.lpips_metric import preload_lpips
from realestate_sr.models.best_validation import BestValidation
from realestate_sr.utils.weights import MissingWeightsError
from realestate_sr.utils.wording import counted, one_line

from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import METRIC_REGISTRY, MODEL_REGISTRY

OPTIMIZERS = {'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW}


def log_validation_images(tb_logger, visualization_dir, current_iter, max_images, max_side):
    """Add the first ``max_images`` validation outputs of ``current_iter`` (as BasicSR saved them) to
    tensorboard, downscaled to ``max_side`` so the event file stays small."""
    paths = sorted(Path(visualization_dir).glob(f'*/*_{current_iter}.png'))[:max_images]
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        scale = min(1.0, max_side / max(bgr.shape[:2]))
        if scale < 1:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        tb_logger.add_image(f'val/{path.parent.name}', bgr[:, :, ::-1].copy(), current_iter, dataformats='HWC')


class ValidationProgress:
    """A validation dataloader that logs one line per image (``image k/N``, seconds per image so far), so a
    validation of full-resolution photos shows it is alive. SRModel reads ``.dataset`` and iterates it."""

    def __init__(self, dataloader, log):
        self.dataloader, self.dataset, self.log = dataloader, dataloader.dataset, log

    def __len__(self):
        return len(self.dataloader)

    def __iter__(self):
        name, count, start = self.dataset.opt['name'], len(self.dataloader), time.time()
        for index, data in enumerate(self.dataloader):
            if index:
                self.log(f'validating {name}: image {index + 1}/{count} '
                         f'({(time.time() - start) / index:.1f} s/image so far)')
            else:
                self.log(f'validating {name}: image 1/{count}')
            yield data


def ema_too_short_message(total_iter, ema_decay):
    """A warning when ``total_iter`` steps leave an EMA of ``ema_decay`` mostly at the initial weights, else None.

    After n steps the initial weights still make up ``decay ** n`` of the average: below ~3 / (1 - decay) steps
    (5 % left) validation and ``params_ema`` show a network close to the one training started from.
    """
    if not ema_decay or ema_decay <= 0 or ema_decay >= 1:
        return None
    needed = 3 / (1 - ema_decay)
    if total_iter >= needed:
        return None
    lower = f', lower ema_decay to {1 - 3 / total_iter:.3g}' if total_iter > 3 else ''
    return (f'train.ema_decay: {ema_decay} over total_iter {total_iter}: the EMA weights (params_ema, which '
            f'validation and the tools use) will still be {ema_decay ** total_iter:.0%} the initial weights; '
            f'train at least {needed:.0f} iterations{lower} or set it to 0')


NAFNET_RELEASE_URL = 'https://github.com/megvii-research/NAFNet#results-and-pre-trained-models'


def require_pretrained_file(path):
    """Fail early, naming the file and where to get it, when ``path.pretrain_network_g`` does not exist
    or is a training state rather than network weights."""
    if path is not None and str(path).endswith('.state'):
        raise CheckpointMismatchError(f'path.pretrain_network_g: {training_state_message(path)}')
    if path is not None and str(path).lower().endswith('.onnx'):
        raise CheckpointMismatchError(f'path.pretrain_network_g: {path} is an ONNX export, which training cannot '
                                      'start from; give the PyTorch weights it was exported from (a .pth)')
    if path is not None and not os.path.isfile(path):
        raise MissingWeightsError(
            f'path.pretrain_network_g: {path} not found (relative paths are relative to the repository root). '
            f'Official NAFNet checkpoints: {NAFNET_RELEASE_URL}; or a net_g_*.pth from experiments/<name>/models/.')


def read_pretrained(path, param_key):
    """The state_dict BaseModel.load_network would load from ``path`` (``param_key``, else 'params'), or one
    CheckpointMismatchError line when ``path`` is not a PyTorch checkpoint or lacks both keys."""
    try:
        try:
            return read_state_dict(path, param_key)
        except KeyError:  # BaseModel falls back to 'params' when param_key is missing
            return read_state_dict(path, 'params')
    except CheckpointMismatchError as error:
        raise CheckpointMismatchError(f'path.pretrain_network_g: {error}') from error
    except KeyError as error:
        raise CheckpointMismatchError(f'path.pretrain_network_g: {error.args[0]}') from error
    except Exception as error:  # noqa: BLE001 (unpickling a file of another kind raises many types)
        raise CheckpointMismatchError(f'path.pretrain_network_g: {path} does not load as a PyTorch checkpoint '
                                      f'({type(error).__name__}: {one_line(error)[:200]})') from error


def require_registered_metrics(val_opt):
    """Fail at start-up, not after the first training stretch, when a ``val.metrics`` type does not
    exist or its weights (LPIPS backbones) are not on this machine."""
    for name, metric_opt in ((val_opt or {}).get('metrics') or {}).items():
        if metric_opt.get('type') not in METRIC_REGISTRY:
            known = ', '.join(sorted(key for key, _ in METRIC_REGISTRY))
            raise KeyError(f'val.metrics.{name}: unknown type {metric_opt.get("type")!r}; known: {known}')
        if metric_opt['type'] == 'calculate_lpips':
            preload_lpips(metric_opt)


@dataclass
class TrainingViews:
    """What a training step's generator call gives its losses: output and target of every view, the batch's first."""
    output: torch.Tensor
    target: torch.Tensor


@MODEL_REGISTRY.register()
class EnhanceModel(SRModel):
    """SRModel plus AdamW, BF16 autocast, gradient clipping, channels_last and tiled (TLC) validation.

    Logging, checkpoints (``params`` + ``params_ema``), EMA, schedulers and
    resume are BasicSR's. YAML keys read here, beyond SRModel's:

        train:
          optim_g: {type: AdamW | Adam, lr, betas, weight_decay}
          bf16: false             # autocast the forward in bfloat16 (no GradScaler); losses in float32
          grad_clip_norm: ~       # max total gradient norm; ~ disables clipping
          channels_last: false    # NHWC memory format for network and inputs (faster convs on tensor cores)
        val:
          tile: {size: 512, overlap: 64, batch: 4, border_pad: 0}   # ~ runs whole images
          tlc: false              # validate with NAFNetLocal (window 1.5 x datasets.train.gt_size); a warning
                                  # says when the tiles fit that window (then it equals NAFNet)
          tb_images: 4            # validation outputs shown in tensorboard (with save_img: true)
          tb_image_side: 768      # their longest side there
          best: {metric: psnr, dataset: ~, patience: ~}   # models/net_g_best.pth and early stopping, see
                                  # realestate_sr.models.best_validation; absent: neither
    """

    # the keys above and SRModel's, by block ('' is the file's top level), for models.option_checks; subclasses
    # declare only what they add
    OPTION_KEYS = {'': ('network_g', 'find_unused_parameters'),
                   'path': ('pretrain_network_g', 'strict_load_g', 'param_key_g'),
                   'train': ('optim_g', 'scheduler', 'warmup_iter', 'ema_decay', 'bf16', 'grad_clip_norm',
                             'channels_last', 'pixel_opt', 'perceptual_opt'),
                   'val': ('save_img', 'suffix', 'pbar', 'metrics', 'tile', 'tlc', 'tb_images', 'tb_image_side',
                           'best')}

    def __init__(self, opt):
        train_opt = opt.get('train') or {}
        self.channels_last = bool(train_opt.get('channels_last', False))
        self.amp_dtype = torch.bfloat16 if train_opt.get('bf16', False) else None
        self.grad_clip_norm = train_opt.get('grad_clip_norm')
        self._tlc_net = None
        self.inference_settings = InferenceSettings.from_options(opt)
        self.val_tile = self.inference_settings.tile_dict() if self.inference_settings.tiled else None
        require_pretrained_file(opt.get('path', {}).get('pretrain_network_g'))
        require_registered_metrics(opt.get('val'))
        super().__init__(opt)
        self._validated = set()  # (dataset name, iteration): BasicSR's final call repeats the last one
        self.best_validation = BestValidation.from_options(opt) if self.is_train else None
        self._first_step_start = None  # None before the first training step, False once it is logged
        if self.is_train:
            message = ema_too_short_message(int(train_opt.get('total_iter', 0)), self.ema_decay)
            if message:
                get_root_logger().warning(message)
        note = tlc_note(opt['network_g'], self.inference_settings) if opt.get('val') else None
        if note:
            get_root_logger().warning(tlc_warning(note, 'val.tlc: true'))

    # --- device placement -------------------------------------------------------------------------------------
    def model_to_device(self, net):
        """Like BaseModel's, but DDP gets CUDA device ids only on CUDA (Gloo on CPU takes none)."""
        net = net.to(self.device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if self.opt['dist']:
            device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
            net = DistributedDataParallel(
                net, device_ids=device_ids, find_unused_parameters=self.opt.get('find_unused_parameters', False))
        elif self.opt['num_gpu'] > 1:
            net = DataParallel(net)
        return net

    def feed_data(self, data):
        """SRModel's, plus: uint8 samples (``output_dtype: uint8``) become float32 in [0, 1] on the device."""
        super().feed_data(data)
        if self.lq.dtype == torch.uint8:
            self.lq = self.lq.float().div_(255.0)
        if hasattr(self, 'gt') and self.gt.dtype == torch.uint8:
            self.gt = self.gt.float().div_(255.0)
        if self.channels_last:
            self.lq = self.lq.contiguous(memory_format=torch.channels_last)

    # --- optimisation -----------------------------------------------------------------------------------------
    def get_optimizer(self, optim_type, params, lr, **kwargs):
        if optim_type not in OPTIMIZERS:
            raise NotImplementedError(f'optimizer {optim_type} is not supported; choose one of {sorted(OPTIMIZERS)}')
        if 'betas' in kwargs:
            kwargs['betas'] = tuple(kwargs['betas'])
        return OPTIMIZERS[optim_type](params, lr, **kwargs)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()

    def compute_losses(self, output, gt):
        """Total loss and the named terms to log: ``l_pix`` (``train.pixel_opt``), ``l_percep`` and ``l_style``
        (``train.perceptual_opt``), each as its loss returns it, weight included. Subclasses add their terms."""
        total = 0
        terms = OrderedDict()
        if self.cri_pix:
            terms['l_pix'] = self.cri_pix(output, gt)
            total = total + terms['l_pix']
        if self.cri_perceptual:  # (perceptual, style), as BasicSR's PerceptualLoss returns them; None: not computed
            for name, value in zip(('l_percep', 'l_style'), self.cri_perceptual(output, gt)):
                if value is not None:
                    total = total + value
                    terms[name] = value
        return total, terms

    # --- one training step: the generator call, its losses, the optimizer step (SRModel's order) ---------------
    def run_generator(self):
        """The generator on this step's batch: its output kept as ``self.output``, the TrainingViews returned."""
        self.output = self.net_g(self.lq)
        return TrainingViews(self.output, self.gt)

    def generator_losses(self, views):
        """Total loss and named terms of the generator on ``views`` (``compute_losses`` here)."""
        return self.compute_losses(views.output, views.target)

    def step_optimizer(self, optimizer, net, loss, terms):
        """Backward, ``net``'s gradients clipped to ``train.grad_clip_norm`` (logged as grad_norm), a step."""
        loss.backward()
        if self.grad_clip_norm:
            terms['grad_norm'] = torch.nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip_norm)
        optimizer.step()

    def optimize_parameters(self, current_iter):
        self.start_step()
        self.optimizer_g.zero_grad(set_to_none=True)
        with self.autocast():
            l_total, terms = self.generator_losses(self.run_generator())
        self.step_optimizer(self.optimizer_g, self.net_g, l_total, terms)
        self.end_step(terms, current_iter)

    def start_step(self):
        if self._first_step_start is None:
            self._first_step_start = time.time()

    def end_step(self, terms, current_iter):
        """Log ``terms``, update the EMA; after the first step say that the loop runs (print_freq can be far)."""
        self.log_dict = self.reduce_loss_dict(terms)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)
        if self._first_step_start:
            get_root_logger().info(f'first iteration (iter {current_iter}) done in '
                                   f'{time.time() - self._first_step_start:.1f} s; {self.first_step_note()}')
            self._first_step_start = False

    def first_step_note(self):
        return f'losses every {(self.opt.get("logger") or {}).get("print_freq")} iterations'

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """BaseModel's, after checking that ``load_path`` loads and fits ``net``: a file that is not a PyTorch
        checkpoint, or one of another width or layout, is one CheckpointMismatchError line instead of torch's
        traceback (the same description as tiled_infer and evaluate give)."""
        state_dict = read_pretrained(load_path, param_key)
        problems = describe_mismatch(self.get_bare_model(net).state_dict(), state_dict)
        if problems and strict:
            trained_with = trained_with_hint(load_path)
            raise CheckpointMismatchError(
                f'path.pretrain_network_g: {load_path} does not fit network_g '
                f'({self.opt["network_g"].get("type")}, width {self.opt["network_g"].get("width")}): '
                + '; '.join(problems) + (f'; {trained_with}' if trained_with else '')
                + ' (set network_g to the layout it was trained with, or strict_load_g: false)')
        super().load_network(net, load_path, strict, param_key)

    # --- checkpoints --------------------------------------------------------------------------------------------
    # BaseModel's save_network / save_training_state call torch.save on the final name: a kill mid-write left a
    # truncated net_g_<iter>.pth or <iter>.state that auto-resume then picked as the newest. Same files, same
    # contents, written through save_atomically; net_g files also keep the trained_with record (network_g after
    # --force_yml and the validation's settings), which the experiment's copy of the option file may not match.
    @staticmethod
    def _save_with_retries(obj, path):
        for attempt in range(3):
            try:
                save_atomically(obj, path)
                return
            except OSError as error:
                get_root_logger().warning(f'cannot save {path} ({error}); {counted(2 - attempt, "retry", "retries")} '
                                          'left')
                time.sleep(1)
        get_root_logger().warning(f'gave up saving {path}; training continues')

    def network_checkpoint(self, net, net_label, param_key='params'):
        """What ``save_network`` writes for ``net`` (one network or a list, one ``param_key`` each)."""
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        assert len(nets) == len(keys), 'one param_key per network'
        save_dict = {}
        for net_, key in zip(nets, keys):
            state_dict = self.get_bare_model(net_).state_dict()
            save_dict[key] = OrderedDict((name[len('module.'):] if name.startswith('module.') else name, value.cpu())
                                         for name, value in state_dict.items())
        if net_label == 'net_g':
            save_dict[TRAINED_WITH_KEY] = trained_with_record(self.opt['network_g'], self.inference_settings,
                                                              self.get_bare_model(nets[0]))
        return save_dict

    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        label = 'latest' if current_iter == -1 else current_iter
        self._save_with_retries(self.network_checkpoint(net, net_label, param_key),
                                os.path.join(self.opt['path']['models'], f'{net_label}_{label}.pth'))

    def best_checkpoint_path(self):
        return os.path.join(self.opt['path']['models'], BEST_CHECKPOINT)

    @master_only
    def save_best(self):
        """Write ``models/net_g_best.pth``: what ``save`` writes to net_g_<iter>.pth, plus the ``best`` record."""
        if hasattr(self, 'net_g_ema'):
            save_dict = self.network_checkpoint([self.net_g, self.net_g_ema], 'net_g', ['params', 'params_ema'])
        else:
            save_dict = self.network_checkpoint(self.net_g, 'net_g')
        save_dict[BEST_KEY] = self.best_validation.record()
        self._save_with_retries(save_dict, self.best_checkpoint_path())

    @master_only
    def save_training_state(self, epoch, current_iter):
        if current_iter == -1:  # BasicSR's "latest" save writes networks only
            return
        state = {'epoch': epoch, 'iter': current_iter,
                 'optimizers': [optimizer.state_dict() for optimizer in self.optimizers],
                 'schedulers': [scheduler.state_dict() for scheduler in self.schedulers],
                 'best_metric_results': self.best_metric_results_to_save()}
        if self.best_validation is not None:
            state['best_validation'] = self.best_validation.state()
        self._save_with_retries(state, os.path.join(self.opt['path']['training_states'], f'{current_iter}.state'))

    def best_metric_results_to_save(self):
        """BasicSR's ``best_metric_results`` (dataset -> metric -> better, val, iter) in plain Python numbers:
        metrics return numpy scalars, which a ``weights_only`` load (resume.py) refuses."""
        return {dataset: {metric: {'better': record['better'], 'val': float(record['val']), 'iter': int(record['iter'])}
                          for metric, record in metrics.items()}
                for dataset, metrics in getattr(self, 'best_metric_results', {}).items()}

    def resume_training(self, resume_state):
        """BaseModel's (optimizers, schedulers), plus the best validation results so far, which BasicSR would
        start afresh: after a resume, ``Best: ... @ iter`` still counts the iterations before it."""
        super().resume_training(resume_state)
        if resume_state.get('best_metric_results'):
            self.best_metric_results = resume_state['best_metric_results']
        if self.best_validation is not None:
            saved = self.best_checkpoint_path()
            self.best_validation.resume(resume_state.get('best_validation'),
                                        read_best_record(saved) if os.path.isfile(saved) else None)

    # --- inference ----------------------------------------------------------------------------------------------
    def inference_network(self):
        """The network validation runs: EMA weights when kept, in NAFNetLocal form when ``val.tlc``."""
        source = self.net_g_ema if hasattr(self, 'net_g_ema') else self.get_bare_model(self.net_g)
        net = module_to_run(source, self.opt['network_g'], self.inference_settings, self._tlc_net)
        if net is not source:
            self._tlc_net = net
        return net

    def validated_weights(self):
        """The checkpoint key of the weights validation runs: ``params_ema`` when an EMA is kept, else ``params``."""
        return 'params_ema' if hasattr(self, 'net_g_ema') else 'params'

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        """BasicSR's, run once per iteration: its end-of-training call passes the loop counter, which is past
        ``total_iter`` (by one, plus one per remaining epoch), and repeats the validation just done at
        ``total_iter`` when ``val_freq`` divides it. That call is logged at ``total_iter``, or skipped."""
        total_iter = int((self.opt.get('train') or {}).get('total_iter', current_iter))
        if self.is_train and current_iter > total_iter:
            current_iter = total_iter
        key = (dataloader.dataset.opt['name'], current_iter)
        if key in self._validated:
            return
        self._validated.add(key)
        super().validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """BasicSR's validation, plus a progress line per image, which weights it runs, and the saved validation
        images in tensorboard (``val.tb_images``)."""
        logger = get_root_logger()
        logger.info(f'validating {dataloader.dataset.opt["name"]} at iter {current_iter} with the '
                    f'{self.validated_weights()} weights')
        super().nondist_validation(ValidationProgress(dataloader, logger.info), current_iter, tb_logger, save_img)
        if self.best_validation is not None and self.opt['val'].get('metrics'):
            self.track_best(dataloader.dataset.opt['name'], current_iter)
        if tb_logger is not None and save_img and self.opt['is_train']:
            log_validation_images(tb_logger, self.opt['path']['visualization'], current_iter,
                                  self.opt['val'].get('tb_images', 4), self.opt['val'].get('tb_image_side', 768))

    def track_best(self, dataset_name, current_iter):
        """After the validation of ``dataset_name`` at ``current_iter``: when it is the set ``val.best`` follows and
        its metric improved, write models/net_g_best.pth; one log line either way."""
        best = self.best_validation
        best.dataset = best.dataset or dataset_name
        if dataset_name != best.dataset:
            return
        value = float(self.metric_results[best.metric])
        if best.update(current_iter, value):
            self.save_best()
            get_root_logger().info(f'new best {best.describe()}: saved {self.best_checkpoint_path()}')
            return
        patience = f' (patience {best.patience})' if best.patience is not None else ''
        get_root_logger().info(f'{best.metric} {value:.4f} on {best.dataset} at iter {current_iter}: no better than '
                               f'the best, {best.describe()}; {counted(best.validations_since, "validation")} '
                               f'without improvement{patience}')

    def test(self):
        net = self.inference_network()
        was_training = net.training
        net.eval()
        self.output = Enhancer.from_module(net, self.inference_settings).run_tensor(self.lq)
        net.train(was_training)
