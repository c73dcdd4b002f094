"""WholePhotoModel: EnhanceModel for networks that see the whole photo (ImageAdaptiveLUT, BilateralGridNet)."""
from realestate_sr.models.enhance_model import EnhanceModel

from basicsr.losses import build_loss
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class WholePhotoModel(EnhanceModel):
    """EnhanceModel whose training steps give the network the whole photo's thumbnail and the crop's box.

    Reads every EnhanceModel key (``train.optim_g`` AdamW/Adam, ``train.bf16``, ``train.grad_clip_norm``,
    ``train.channels_last``, ``train.ema_decay``, ``train.pixel_opt``, ``val.*``) and:

        datasets.train.type: WholePhotoDataset   # yields lq_thumb and box with each crop
        train:
          lut_opt: {type: LUTRegularizationLoss, smoothness_weight: 1.0e-4, monotonicity_weight: 10.0}
                                                 # optional; added to the loss, logged as l_lut

    Batches without ``lq_thumb`` (e.g. from a PairedListingDataset) are whole photos: the network makes
    its own thumbnail. Validation is EnhanceModel's: the inference object runs architectures with
    ``whole_photo = True`` in one pass whatever ``val.tile`` says (a warning here says so).
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

    def _add_photo_inputs(self, module, args, kwargs):
        return args, {**kwargs, 'thumb': self.lq_thumb, 'box': self.box}

    def optimize_parameters(self, current_iter):
        # EnhanceModel's step calls net_g(lq); a forward pre-hook adds the thumbnail and box for this step, so
        # the step itself (autocast, clipping, EMA, logging) stays EnhanceModel's and follows its changes
        hook = self.get_bare_model(self.net_g).register_forward_pre_hook(self._add_photo_inputs, with_kwargs=True)
        try:
            super().optimize_parameters(current_iter)
        finally:
            hook.remove()

    def compute_losses(self, output, gt):
        total, terms = super().compute_losses(output, gt)
        if self.cri_lut is not None:
            terms['l_lut'] = self.cri_lut(self.get_bare_model(self.net_g))
            total = total + terms['l_lut']
        return total, terms
