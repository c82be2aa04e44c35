"""CNN families sized for small (28 px) images: AlexNet-, VGG- and ResNet-18-style (survey §4.1, CL1).

All three take ``in_channels`` (1 for grey, 3 for RGB or replicated grey) and expose the same
interface: ``forward_features(x) -> (N, D)`` (the penultimate features, used for frozen-feature
transfer and feature fusion), ``fc`` (the last linear layer) and ``cam_layer`` (the last
convolutional block, the layer Grad-CAM reads).
"""
from __future__ import annotations

import torch
from torch import nn

from corelib import validate

__all__ = ["SmallCNN", "AlexNet28", "VGG28", "ResNet18Small", "build_net", "NETS"]


class SmallCNN(nn.Module):
    """Base class: checks the input, then ``fc(forward_features(x))``."""

    in_channels: int
    cam_layer: nn.Module
    fc: nn.Linear

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} was built for {self.in_channels} input channel(s), "
                             f"got {x.shape[1]}; replicate grey images with x.repeat(1, 3, 1, 1) or rebuild")
        if min(x.shape[-2:]) < 8:
            raise ValueError(f"images must be at least 8x8 px, got {tuple(x.shape[-2:])}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


def _c(n: float, width: float) -> int:
    return max(4, int(round(n * width)))


class AlexNet28(SmallCNN):
    """AlexNet-style net for 28 px: 5 convolutions (ReLU, max-pooling), 2 dropout-regularised dense layers.

    After Krizhevsky et al. (2012) as used for medical images in [94]; sized down for 28 px
    (5x5 first kernel, stride 1, three 2x2 poolings: 28 -> 14 -> 7 -> 3).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: float = 1.0, dropout: float = 0.5):
        super().__init__()
        self.in_channels = in_channels
        c1, c2, c3 = _c(48, width), _c(96, width), _c(128, width)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c2, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.cam_layer = self.body[-1]
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(3), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c2 * 9, _c(256, width)), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc = nn.Linear(_c(256, width), num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.head(self.body(x))


class VGG28(SmallCNN):
    """VGG-style net for 28 px: stacks of 3x3 convolutions (BatchNorm, ReLU), 2x2 max-pooling, global pooling.

    After Simonyan & Zisserman (2015) as used in [95]; three stages (2, 2, 3 convolutions) for 28 px.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: float = 1.0):
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (n_conv, c) in enumerate(((2, 32), (2, 64), (3, 128))):
            c = _c(c, width)
            for _ in range(n_conv):
                layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                c_in = c
            if i < 2:
                layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        self.cam_layer = self.body
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3))
        self.fc = nn.Linear(c_in, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.head(self.body(x))


class ResNet18Small(SmallCNN):
    """ResNet-18 with the small-image stem used by MedMNIST v2: 3x3 conv, stride 1, no max-pooling.

    He et al. (2016), the survey's ResNet family; the backbone is MONAI's ``ResNet`` (basic blocks
    [2, 2, 2, 2]). ``width`` scales the channels (1.0 = 64-128-256-512 as in the benchmark; the quick
    profile uses fewer to train on a CPU). ``attention=True`` adds a spatial attention branch on the
    last block (see :mod:`corelib.classification.attention`).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: float = 1.0, attention: bool = False):
        super().__init__()
        from monai.networks.nets import ResNet

        self.in_channels = in_channels
        self.backbone = ResNet("basic", [2, 2, 2, 2], [64, 128, 256, 512], spatial_dims=2,
                               n_input_channels=in_channels, conv1_t_size=3, conv1_t_stride=1,
                               no_max_pool=True, widen_factor=width, feed_forward=False)
        dim = int(512 * width)
        self.cam_layer = self.backbone.layer4
        self.attention = None
        if attention:
            from corelib.classification.attention import AttentionGate

            self.attention = AttentionGate(dim)
            self.cam_layer = self.attention
        self.fc = nn.Linear(dim, num_classes)
        self.last_attention: torch.Tensor | None = None

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's feature map (N, D, h, w), after the attention gate when there is one."""
        self._check(x)
        b = self.backbone
        x = b.act(b.bn1(b.conv1(x)))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        if self.attention is not None:
            x = self.attention(x)
            self.last_attention = self.attention.last_map
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


NETS = {"alexnet": AlexNet28, "vgg": VGG28, "resnet18": ResNet18Small}


def build_net(name: str, in_channels: int = 1, num_classes: int = 2, width: float = 1.0, **kw) -> SmallCNN:
    """Build one of :data:`NETS` by name (``alexnet``, ``vgg``, ``resnet18``)."""
    if name not in NETS:
        raise ValueError(f"unknown net {name!r}; choose one of {sorted(NETS)}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels!r}")
    validate.integer("num_classes", num_classes, min=2)
    validate.positive("width", width)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
    return NETS[name](in_channels=in_channels, num_classes=num_classes, width=width, **kw)
