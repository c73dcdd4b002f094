"""WholePhotoModel: EnhanceModel for networks that see the whole photo (ImageAdaptiveLUT, BilateralGridNet)."""
import torch
from basicsr.losses import build_loss
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from realestate_sr.models.enhance_model import EnhanceModel


@MODEL_REGISTRY.register()
class WholePhotoModel(EnhanceModel):
    """EnhanceModel whose training steps give the network the whole photo's thumbnail and the crop's box,
    and whose validation runs each whole photo in one pass.

    Reads every EnhanceModel key (``train.optim_g`` AdamW/Adam, ``train.bf16``, ``train.grad_clip_norm``,
    ``train.channels_last``, ``train.ema_decay``, ``train.pixel_opt``, ``val.*``) and:

        datasets.train.type: WholePhotoDataset   # yields lq_thumb and box with each crop
        train:
          lut_opt: {type: LUTRegularizationLoss, smoothness_weight: 1.0e-4, monotonicity_weight: 10.0}
                                                 # optional; added to the loss, logged as l_lut

    Batches without ``lq_thumb`` (e.g. a PairedListingDataset) are taken as whole photos: the network
    makes its own thumbnail. For networks with ``whole_photo = True`` validation ignores ``val.tile``
    (a warning says so); any other network is validated as EnhanceModel does.
    """

    def __init__(self, opt):
        super().__init__(opt)
        net = self.get_bare_model(self.net_g)
        if getattr(net, 'whole_photo', False) and self.val_tile:
            get_root_logger().warning('val.tile is ignored for %s: it sees the whole photo and runs it in one pass',
                                      type(net).__name__)

    def init_training_settings(self):
        super().init_training_settings()
        lut_opt = self.opt['train'].get('lut_opt')
        self.cri_lut = build_loss(lut_opt).to(self.device) if lut_opt else None

    def feed_data(self, data):
        super().feed_data(data)
        self.lq_thumb = data['lq_thumb'].to(self.device).float() if 'lq_thumb' in data else None
        self.box = data['box'].to(self.device).float() if 'box' in data else None

    def optimize_parameters(self, current_iter):
        self.optimizer_g.zero_grad(set_to_none=True)
        with self.autocast():
            self.output = self.net_g(self.lq, thumb=self.lq_thumb, box=self.box)
            l_total, terms = self.compute_losses(self.output, self.gt)
        if self.cri_lut is not None:
            l_lut = self.cri_lut(self.get_bare_model(self.net_g))
            l_total = l_total + l_lut
            terms['l_lut'] = l_lut
        l_total.backward()
        if self.grad_clip_norm:
            terms['grad_norm'] = torch.nn.utils.clip_grad_norm_(self.net_g.parameters(), self.grad_clip_norm)
        self.optimizer_g.step()
        self.log_dict = self.reduce_loss_dict(terms)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    def test(self):
        net = self.inference_network()
        if not getattr(net, 'whole_photo', False):
            return super().test()
        was_training = net.training
        net.eval()
        with torch.no_grad(), self.autocast():
            self.output = net(self.lq, thumb=self.lq_thumb, box=self.box).float()
        net.train(was_training)
