"""WholePhotoGANModel: adversarial training of the whole-photo networks (ImageAdaptiveLUT, BilateralGridNet)."""
from realestate_sr.models.gan_enhance_model import GANEnhanceModel
from realestate_sr.models.whole_photo_model import WholePhotoModel

from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class WholePhotoGANModel(WholePhotoModel, GANEnhanceModel):
    """WholePhotoModel's training steps (the whole photo's thumbnail and the crop's box reach the generator,
    ``train.lut_opt``) with GANEnhanceModel's discriminator (``network_d``, ``train.optim_d``, ``gan_opt``,
    ``net_d_iters``, ``net_d_init_iters``, checkpoints and resume of both). Every key of both models applies.

    GANEnhanceModel's step calls WholePhotoModel's generator call and losses (Python's method order): only the
    generator gets the thumbnails; the discriminator sees the step's views (the crops, then the whole photos of
    ``whole_opt``).
    """
