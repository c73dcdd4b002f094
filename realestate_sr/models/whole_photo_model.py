"""WholePhotoModel: EnhanceModel for networks that see the whole photo (ImageAdaptiveLUT, BilateralGridNet)."""
import torch
import torch.nn.functional as F

from realestate_sr.archs.whole_photo_ops import is_whole_photo
from realestate_sr.models.enhance_model import EnhanceModel, TrainingViews

from basicsr.losses import build_loss
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY


def at_size(images, size):
    """N,C,h,w images area-resized to ``size`` (h, w); themselves when they have it."""
    return images if tuple(images.shape[-2:]) == tuple(size) else F.interpolate(images, size=size, mode='area')


@MODEL_REGISTRY.register()
class WholePhotoModel(EnhanceModel):
    """EnhanceModel whose training steps give the network the whole photo's thumbnail and the crop's box.

    Reads every EnhanceModel key (``train.optim_g`` AdamW/Adam, ``train.bf16``, ``train.grad_clip_norm``,
    ``train.channels_last``, ``train.ema_decay``, ``train.pixel_opt``, ``val.*``) and:

        datasets.train.type: WholePhotoDataset   # yields lq_thumb and box with each crop
        train:
          lut_opt: {type: LUTRegularizationLoss, smoothness_weight: 1.0e-4, monotonicity_weight: 10.0}
                                                 # optional; added to the loss, logged as l_lut
          whole_opt: {type: PixelL1Loss, loss_weight: 1.0}
                                                 # optional: a loss on the edit of the whole photo, at the
                                                 # crop's size, logged as l_whole (below)

    ``whole_opt``: each crop supervises only the grid cells (or LUT entries) its pixels reach, a small part
    of the photo. With ``whole_opt`` the step also edits the whole photo at low resolution (the source
    thumbnail resized to the crop's size, box = the whole photo) and compares it with the target's
    thumbnail, so every decision the thumbnail makes is supervised at every step. The whole photos are
    extra views of the same forward (one call of the network, so DDP sees one forward per step; the
    thumbnails are encoded once).

    Batches without ``lq_thumb`` (e.g. from a PairedListingDataset) are whole photos: the network makes
    its own thumbnail. Validation is EnhanceModel's: the inference object runs architectures with
    ``whole_photo = True`` in one pass whatever ``val.tile`` says (a warning here says so).
    """

    OPTION_KEYS = {'train': ('lut_opt', 'whole_opt')}

    def __init__(self, opt):
        super().__init__(opt)
        net = self.get_bare_model(self.net_g)
        if is_whole_photo(net) and self.val_tile:
            get_root_logger().warning('val.tile is ignored for %s: it sees the whole photo and runs it in one pass',
                                      type(net).__name__)

    def init_training_settings(self):
        super().init_training_settings()
        train_opt = self.opt['train']
        self.cri_lut, self.cri_whole = (build_loss(train_opt[key]).to(self.device) if train_opt.get(key) else None
                                        for key in ('lut_opt', 'whole_opt'))

    def feed_data(self, data):
        super().feed_data(data)
        self.lq_thumb = data['lq_thumb'].to(self.device).float() if 'lq_thumb' in data else None
        self.box = data['box'].to(self.device).float() if 'box' in data else None
        self.gt_thumb = data['gt_thumb'].to(self.device).float() if 'gt_thumb' in data else None

    def run_generator(self):
        """One call of the network: the crops with their photos' thumbnails and boxes, followed (``whole_opt``)
        by each whole photo's edit task."""
        lq, gt, box = self.lq, self.gt, self.box
        if self.cri_whole is not None and self.lq_thumb is not None:
            lq, gt, box = self.with_whole_photos()
        output = self.net_g(lq, thumb=self.lq_thumb, box=box)
        self.output = output[:self.lq.shape[0]]
        return TrainingViews(output, gt)

    def with_whole_photos(self):
        """lq, gt and box of the crops followed by each photo's whole-photo edit task: the source thumbnail at the
        crop's size as input, the target thumbnail as target, box (0, 0, 1, 1)."""
        size, crops = self.lq.shape[-2:], self.lq.shape[0]
        full = torch.tensor([0.0, 0.0, 1.0, 1.0], device=self.device).expand(crops, 4)
        return (torch.cat([self.lq, at_size(self.lq_thumb, size).to(self.lq.dtype)]),
                torch.cat([self.gt, at_size(self.gt_thumb, size).to(self.gt.dtype)]),
                torch.cat([self.box, full]))

    def generator_losses(self, views):
        """EnhanceModel's losses on the crops, then ``l_whole`` on the whole photos, ``l_lut``."""
        crops = self.lq.shape[0]
        total, terms = self.compute_losses(views.output[:crops], views.target[:crops])
        if views.output.shape[0] > crops:
            terms['l_whole'] = self.cri_whole(views.output[crops:], views.target[crops:])
            total = total + terms['l_whole']
        if self.cri_lut is not None:
            terms['l_lut'] = self.cri_lut(self.get_bare_model(self.net_g))
            total = total + terms['l_lut']
        return total, terms
