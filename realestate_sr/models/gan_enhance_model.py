"""GANEnhanceModel: EnhanceModel plus a discriminator trained against the generator (BasicSR's SRGANModel scheme)."""
import os
from collections import OrderedDict

import torch

from realestate_sr.archs.checkpoint import CheckpointMismatchError, describe_mismatch, read_state_dict
from realestate_sr.models.enhance_model import EnhanceModel
from realestate_sr.models.option_checks import OptionKeyError
from realestate_sr.utils.weights import MissingWeightsError

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.base_model import BaseModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class GANEnhanceModel(EnhanceModel):
    """EnhanceModel whose generator (``network_g``, any registered architecture) also learns to fool a
    discriminator (``network_d``), trained in turn as BasicSR's SRGANModel does.

    Reads every EnhanceModel key (``train.optim_g``, ``bf16``, ``grad_clip_norm``, ``channels_last``,
    ``ema_decay``, ``pixel_opt``, ``perceptual_opt``, ``val.*``) and:

        network_d: {type: PatchGANDiscriminator, width: 64}   # any registered discriminator
        path:
          pretrain_network_d: ~   # resuming sets it to models/net_d_<iter>.pth
          strict_load_d: true
          param_key_d: params
        train:
          optim_d: {type: AdamW, lr: 1.0e-4, betas: [0.5, 0.999], weight_decay: 0}
          gan_opt: {type: GANLoss, gan_type: vanilla, real_label_val: 1.0, fake_label_val: 0.0, loss_weight: 0.005}
          net_d_iters: 1          # update the generator every net_d_iters iterations
          net_d_init_iters: 0     # iterations at the start that train the discriminator only

    Each iteration: the generator step (pixel/perceptual losses + ``gan_opt`` on the discriminator's verdict
    of the output, with the discriminator frozen), then the discriminator step (real targets vs detached
    outputs). Both run under ``train.bf16`` autocast; the GAN losses are taken on float32 logits. Logged:
    ``l_pix``, ``l_percep``, ``l_g_gan``, ``l_d_real``, ``l_d_fake``, ``out_d_real``, ``out_d_fake``.
    Checkpoints: ``net_g_<iter>.pth`` (``params`` + ``params_ema``), ``net_d_<iter>.pth`` (``params``), and
    training states holding both optimizers and schedulers, so ``--auto_resume`` restores G and D.
    """

    OPTION_KEYS = {'': ('network_d', ), 'path': ('pretrain_network_d', 'strict_load_d', 'param_key_d'),
                   'train': ('optim_d', 'gan_opt', 'net_d_iters', 'net_d_init_iters')}

    def __init__(self, opt):
        load_path = (opt.get('path') or {}).get('pretrain_network_d')
        if opt.get('is_train', True) and load_path is not None and not os.path.isfile(load_path):
            raise MissingWeightsError(f'path.pretrain_network_d: {load_path} not found (relative paths are relative '
                                      'to the repository root)')
        super().__init__(opt)

    def init_training_settings(self):
        train_opt = self.opt['train']
        for name, block, example in (('network_d', self.opt.get('network_d'), '{type: PatchGANDiscriminator}'),
                                     ('train.optim_d', train_opt.get('optim_d'), '{type: AdamW, lr: 1.0e-4}'),
                                     ('train.gan_opt', train_opt.get('gan_opt'), '{type: GANLoss, gan_type: vanilla}')):
            if not block:
                raise OptionKeyError(f'model_type {type(self).__name__} needs {name} (e.g. {example})')
        self.net_d = self.model_to_device(build_network(self.opt['network_d']))
        self.print_network(self.net_d)
        load_path = self.opt['path'].get('pretrain_network_d')
        if load_path is not None:
            self.load_discriminator(load_path, self.opt['path'].get('strict_load_d', True),
                                    self.opt['path'].get('param_key_d', 'params'))
        self.net_d.train()
        self.cri_gan = build_loss(train_opt['gan_opt']).to(self.device)
        self.net_d_iters = int(train_opt.get('net_d_iters', 1))
        self.net_d_init_iters = int(train_opt.get('net_d_init_iters', 0))
        super().init_training_settings()  # EMA, pixel/perceptual losses, optimizers (ours below), schedulers

    def load_discriminator(self, load_path, strict, param_key):
        state_dict = read_state_dict(load_path, param_key)
        problems = describe_mismatch(self.get_bare_model(self.net_d).state_dict(), state_dict)
        if problems and strict:
            raise CheckpointMismatchError(f'path.pretrain_network_d: {load_path} does not fit network_d '
                                          f'({self.opt["network_d"].get("type")}): ' + '; '.join(problems))
        BaseModel.load_network(self, self.net_d, load_path, strict, param_key)

    def setup_optimizers(self):
        super().setup_optimizers()
        optim_opt = dict(self.opt['train']['optim_d'])
        self.optimizer_d = self.get_optimizer(optim_opt.pop('type'), self.net_d.parameters(), **optim_opt)
        self.optimizers.append(self.optimizer_d)

    def _gan_loss(self, logits, target_is_real, is_disc):
        return self.cri_gan(logits.float(), target_is_real, is_disc=is_disc)

    def optimize_parameters(self, current_iter):
        self.start_step()
        terms = OrderedDict()
        self.net_d.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        generator_step = current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters
        # before net_d_init_iters (and between generator steps) the output only feeds the discriminator
        with self.autocast(), torch.set_grad_enabled(generator_step):
            views = self.run_generator()
            if generator_step:
                l_total, terms = self.generator_losses(views)
                terms['l_g_gan'] = self._gan_loss(self.net_d(views.output), True, is_disc=False)
                l_total = l_total + terms['l_g_gan']
        if generator_step:
            self.step_optimizer(self.optimizer_g, self.net_g, l_total, terms)
        self.net_d.requires_grad_(True)
        self.step_discriminator(views, terms)
        self.end_step(terms, current_iter)

    def step_discriminator(self, views, terms):
        """One discriminator step, ``views.target`` (real) against ``views.output`` (fake), logged in ``terms``."""
        self.optimizer_d.zero_grad(set_to_none=True)
        with self.autocast():
            real_logits = self.net_d(views.target)
            terms['l_d_real'] = self._gan_loss(real_logits, True, is_disc=True)
        terms['l_d_real'].backward()
        with self.autocast():
            fake_logits = self.net_d(views.output.detach())
            terms['l_d_fake'] = self._gan_loss(fake_logits, False, is_disc=True)
        terms['l_d_fake'].backward()
        self.optimizer_d.step()
        terms['out_d_real'] = real_logits.detach().float().mean()
        terms['out_d_fake'] = fake_logits.detach().float().mean()

    def first_step_note(self):
        return f'the generator trains from iteration {self.net_d_init_iters + 1}, every {self.net_d_iters}'

    def save(self, epoch, current_iter):
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        self.save_network(self.net_d, 'net_d', current_iter)
        self.save_training_state(epoch, current_iter)
