"""A frozen VGG19 feature extractor whose weights come from a local file, never from a download.

torchvision's VGG19 ImageNet weights are the file ``vgg19-dcbb9e9d.pth``. We look
for it at the path the option file gives, else in the torch hub cache
(``$TORCH_HOME/hub/checkpoints/``); when it is in neither, the error says which
file, where we looked and where to download it.
"""
import torch
from torch import nn
from torchvision.models import vgg19

from realestate_sr.utils.weights import find_weights

VGG19_FILE = 'vgg19-dcbb9e9d.pth'
VGG19_URL = f'https://download.pytorch.org/models/{VGG19_FILE}'
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layer_names(features):
    """Names like conv3_4 / relu3_4 / pool3 for the modules of ``vgg19().features``, in order."""
    names, block, index = [], 1, 1
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            names.append(f'conv{block}_{index}')
        elif isinstance(layer, nn.ReLU):
            names.append(f'relu{block}_{index}')
            index += 1
        else:
            names.append(f'pool{block}')
            block, index = block + 1, 1
    return names


class VGG19Features(nn.Module):
    """Frozen VGG19 (eval mode, no gradients to its weights) returning the requested layers' outputs.

    Inputs are RGB in [0, 1]; ImageNet normalisation happens inside.

    Args:
        layers (list[str]): e.g. ['conv3_4', 'conv4_4', 'conv5_4'] (conv outputs before ReLU).
        weights_path (str | None): VGG19 ImageNet weights; None looks in the torch hub cache.
        random_weights_for_testing (bool): Build with random weights instead (tests only).
    """

    def __init__(self, layers, weights_path=None, random_weights_for_testing=False):
        super().__init__()
        features = vgg19(weights=None).features
        names = vgg19_layer_names(features)
        unknown = sorted(set(layers) - set(names))
        if unknown:
            raise ValueError(f'Unknown VGG19 layers {unknown}; valid names look like conv3_4, relu5_4')
        if not random_weights_for_testing:
            path = find_weights(VGG19_FILE, VGG19_URL, weights_path)
            state = torch.load(path, map_location='cpu', weights_only=True)
            prefix = 'features.'
            features.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        last = max(names.index(layer) for layer in layers)
        self.features = features[:last + 1]
        self.names = names[:last + 1]
        self.layers = set(layers)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode=True):
        return super().train(False)  # stays in eval mode whatever the owner does

    def forward(self, x):
        x = (x - self.mean) / self.std
        outputs = {}
        for name, layer in zip(self.names, self.features):
            x = layer(x)
            if name in self.layers:
                outputs[name] = x
        return outputs
