"""Segmentation networks of survey §3.2: FCN, U-Net, UNet++, R2U-Net, V-Net, Bi-ConvLSTM U-Net.

MONAI supplies U-Net (:func:`unet`), UNet++ (:func:`unet_plus_plus`) and the full-size V-Net
(:func:`vnet`); the FCN, R2U-Net, a width-adjustable small V-Net and the slice-sequence
Bi-ConvLSTM U-Net (:func:`biconvlstm_unet`) are written here. Every network
maps ``(B, C_in, *spatial)`` to logits ``(B, n_classes, *spatial)`` for 2D or 3D inputs of any
size: MONAI networks that need sizes divisible by their total stride are wrapped in
:class:`PadToMultiple`, which pads and crops back.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from corelib import validate

__all__ = [
    "BiConvLSTM",
    "ConvLSTMCell",
    "FCN",
    "PadToMultiple",
    "R2UNet",
    "SliceSequenceUNet",
    "SmallVNet",
    "biconvlstm_unet",
    "count_parameters",
    "fcn",
    "r2unet",
    "unet",
    "unet_plus_plus",
    "vnet",
]


def _check_sizes(**sizes: int | Sequence[int]) -> None:
    """Channel counts and feature widths: positive integers (one, or a non-empty sequence)."""
    for name, value in sizes.items():
        values = [value] if isinstance(value, (int, np.integer)) or not hasattr(value, "__len__") else value
        validate.nonempty(name, values)
        for v in values:
            validate.positive_int(name, v)


def _check_dims(spatial_dims: int) -> int:
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    return spatial_dims


def _conv(d: int):
    return nn.Conv2d if d == 2 else nn.Conv3d


def _norm(d: int):
    return nn.BatchNorm2d if d == 2 else nn.BatchNorm3d


def _pool(d: int):
    return nn.MaxPool2d if d == 2 else nn.MaxPool3d


def _check_input(x: torch.Tensor, d: int, c: int) -> None:
    if x.ndim != d + 2:
        raise ValueError(f"expected a (B, C, {'H, W' if d == 2 else 'D, H, W'}) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] != c:
        raise ValueError(f"expected {c} input channels, got {x.shape[1]}")


def _up(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    mode = "bilinear" if x.ndim == 4 else "trilinear"
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=False)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class PadToMultiple(nn.Module):
    """Pad the input (replicate) so every spatial size is a multiple of ``k``; crop the output back.

    MONAI's U-Net family needs sizes divisible by the product of its strides; this wrapper lets the
    same network take any size (odd sizes included). Lists of outputs (deep supervision) are
    cropped element by element.
    """

    def __init__(self, net: nn.Module, k: int):
        super().__init__()
        self.net, self.k = net, int(k)

    def forward(self, x: torch.Tensor):
        first = next((m for m in self.net.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))), None)
        if first is not None:  # a wrong channel count or a 3D input to a 2D net fails deep in torch
            _check_input(x, 2 if isinstance(first, nn.Conv2d) else 3, first.in_channels)
        size = x.shape[2:]
        pads: list[int] = []
        for s in reversed(size):
            extra = (-s) % self.k
            pads += [extra // 2, extra - extra // 2]
        y = self.net(F.pad(x, pads, mode="replicate") if any(pads) else x)
        crop = tuple(slice(p0, p0 + s) for p0, s in zip(pads[::2][::-1], size))

        def cut(t: torch.Tensor) -> torch.Tensor:
            return t[(slice(None), slice(None), *crop)]

        return [cut(t) for t in y] if isinstance(y, (list, tuple)) else cut(y)


def _block(d: int, cin: int, cout: int) -> nn.Sequential:
    conv, norm = _conv(d), _norm(d)
    return nn.Sequential(conv(cin, cout, 3, padding=1), norm(cout), nn.ReLU(inplace=True),
                         conv(cout, cout, 3, padding=1), norm(cout), nn.ReLU(inplace=True))


class FCN(nn.Module):
    """Fully convolutional network, FCN-8s style (Long et al. [78]), small and 2D/3D.

    A VGG-like encoder (``features`` channels, one 2x max-pool between stages); each of the three
    deepest stages gets a 1x1 "score" layer. With ``skips=True`` (FCN-8s) the coarsest score is
    upsampled and added to the next finer score twice before the final upsampling; with
    ``skips=False`` (FCN-32s, "plain upsampling") only the coarsest score is interpolated to the
    input size. Upsampling is (bi/tri)linear interpolation, the initialisation FCN gives its
    learnable deconvolutions. Any input size works.
    """

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 3,
                 features: Sequence[int] = (16, 32, 64, 128), skips: bool = True):
        super().__init__()
        d = _check_dims(spatial_dims)
        _check_sizes(in_channels=in_channels, out_channels=out_channels, features=features)
        if len(features) < 3:
            raise ValueError(f"FCN needs at least 3 stages, got features={tuple(features)}")
        self.d, self.in_channels, self.skips = d, in_channels, skips
        chans = [in_channels, *features]
        self.stages = nn.ModuleList(_block(d, a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.pool = _pool(d)(2, ceil_mode=True)
        n_scores = 3 if skips else 1
        self.scores = nn.ModuleList(_conv(d)(c, out_channels, 1) for c in list(features)[-n_scores:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.d, self.in_channels)
        size, feats, h = x.shape[2:], [], x
        for i, stage in enumerate(self.stages):
            if i > 0:
                h = self.pool(h)
            h = stage(h)
            feats.append(h)
        if not self.skips:
            return _up(self.scores[0](feats[-1]), size)
        out = self.scores[-1](feats[-1])
        for score, f in zip(list(self.scores)[-2::-1], feats[-2:-4:-1]):
            out = _up(out, f.shape[2:]) + score(f)
        return _up(out, size)


def fcn(spatial_dims: int = 2, in_channels: int = 1, n_classes: int = 3,
        features: Sequence[int] = (16, 32, 64, 128), skips: bool = True) -> FCN:
    """FCN-8s-style network (``skips=True``) or plain FCN-32s-style upsampling (``skips=False``) [78]."""
    return FCN(spatial_dims, in_channels, n_classes, features, skips)


def unet(spatial_dims: int = 2, in_channels: int = 1, n_classes: int = 3,
         channels: Sequence[int] = (16, 32, 64, 128), num_res_units: int = 1) -> PadToMultiple:
    """U-Net (Ronneberger et al.; MONAI ``UNet``, residual units, stride-2 convolutions), any input size."""
    from monai.networks.nets import UNet

    _check_dims(spatial_dims)
    _check_sizes(in_channels=in_channels, n_classes=n_classes, channels=channels)
    validate.integer("num_res_units", num_res_units, min=0)
    net = UNet(spatial_dims, in_channels, n_classes, channels=tuple(channels),
               strides=(2,) * (len(channels) - 1), num_res_units=num_res_units, norm="batch")
    return PadToMultiple(net, 2 ** (len(channels) - 1))


class _UNetPP(nn.Module):
    """MONAI BasicUNetPlusPlus returning one tensor, or the deep-supervision list while training."""

    def __init__(self, net: nn.Module, deep_supervision: bool):
        super().__init__()
        self.net, self.deep_supervision = net, deep_supervision

    def forward(self, x: torch.Tensor):
        outs = self.net(x)
        return list(outs) if (self.deep_supervision and self.training) else outs[0]


def unet_plus_plus(spatial_dims: int = 2, in_channels: int = 1, n_classes: int = 3,
                   features: Sequence[int] = (16, 16, 32, 64, 128, 16),
                   deep_supervision: bool = False) -> PadToMultiple:
    """UNet++ with nested dense skips (Zhou et al. [83]; MONAI ``BasicUNetPlusPlus``).

    With ``deep_supervision=True`` the model returns, in training mode, the list of outputs of the
    nested decoders (finest first) for :func:`corelib.segmentation.losses.deep_supervision`; in
    eval mode always the final output.
    """
    from monai.networks.nets import BasicUNetPlusPlus

    _check_dims(spatial_dims)
    _check_sizes(in_channels=in_channels, n_classes=n_classes, features=features)
    if len(features) != 6:
        raise ValueError(f"BasicUNetPlusPlus takes 6 feature sizes, got {len(features)}")
    net = BasicUNetPlusPlus(spatial_dims, in_channels, n_classes, features=tuple(features),
                            deep_supervision=deep_supervision, norm=("batch", {}))
    return PadToMultiple(_UNetPP(net, deep_supervision), 16)


class _RecurrentConv(nn.Module):
    """Recurrent convolution: ``h_0 = f(x)``, ``h_t = f(x + h_{t-1})`` with shared weights [85]."""

    def __init__(self, d: int, ch: int, t: int):
        super().__init__()
        self.t = t
        self.f = nn.Sequential(_conv(d)(ch, ch, 3, padding=1), _norm(d)(ch), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.f(x)
        for _ in range(self.t):
            h = self.f(x + h)
        return h


class _RRCNN(nn.Module):
    """Recurrent residual block: 1x1 projection, two recurrent convolutions, residual sum [85]."""

    def __init__(self, d: int, cin: int, cout: int, t: int):
        super().__init__()
        self.proj = _conv(d)(cin, cout, 1)
        self.body = nn.Sequential(_RecurrentConv(d, cout, t), _RecurrentConv(d, cout, t))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return x + self.body(x)


class R2UNet(nn.Module):
    """R2U-Net: U-Net whose blocks are recurrent residual convolutions (Alom et al. [85]), 2D/3D.

    ``t`` is the number of recurrent steps per convolution (the paper uses 2). Down-sampling by
    max-pooling, up-sampling by interpolation to the skip's size (any input size works).
    """

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 3,
                 features: Sequence[int] = (16, 32, 64, 128), t: int = 2):
        super().__init__()
        d = _check_dims(spatial_dims)
        _check_sizes(in_channels=in_channels, out_channels=out_channels, features=features, t=t)
        if t < 1:
            raise ValueError(f"t (recurrent steps) must be >= 1, got {t}")
        self.d, self.in_channels = d, in_channels
        chans = [in_channels, *features]
        self.down = nn.ModuleList(_RRCNN(d, a, b, t) for a, b in zip(chans[:-1], chans[1:]))
        self.pool = _pool(d)(2, ceil_mode=True)
        f = list(features)
        self.reduce = nn.ModuleList(_conv(d)(f[i + 1], f[i], 1) for i in range(len(f) - 1))
        self.up = nn.ModuleList(_RRCNN(d, 2 * f[i], f[i], t) for i in range(len(f) - 1))
        self.head = _conv(d)(f[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.d, self.in_channels)
        skips, h = [], x
        for i, block in enumerate(self.down):
            if i > 0:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        for i in range(len(self.up) - 1, -1, -1):
            s = skips[i]
            h = self.up[i](torch.cat([s, _up(self.reduce[i](h), s.shape[2:])], dim=1))
        return self.head(h)


def r2unet(spatial_dims: int = 2, in_channels: int = 1, n_classes: int = 3,
           features: Sequence[int] = (16, 32, 64, 128), t: int = 2) -> R2UNet:
    """R2U-Net [85] (recurrent residual U-Net)."""
    return R2UNet(spatial_dims, in_channels, n_classes, features, t)


class _VStage(nn.Module):
    """V-Net stage: ``n`` 5^3 convolutions with PReLU, plus a residual connection [84]."""

    def __init__(self, ch: int, n: int, k: int = 5):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(n):
            layers += [nn.Conv3d(ch, ch, k, padding=k // 2), nn.BatchNorm3d(ch), nn.PReLU(ch)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SmallVNet(nn.Module):
    """A narrow V-Net (Milletari et al. [84]) for CPU budgets: residual stages of 5^3 convolutions,
    stride-2 convolutions down, transposed convolutions up, PReLU, skip concatenation.

    Same layout as the paper (stages of 1, 2, 3, 3 convolutions), with ``width`` channels at full
    resolution instead of 16 and ``kernel`` 3 by default (5 in the paper). MONAI's ``VNet``
    (:func:`vnet`) is the full-size network (45.6 M parameters). Needs sizes divisible by 8;
    :func:`vnet` wraps it to take any size.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 3, width: int = 8, kernel: int = 3):
        super().__init__()
        _check_sizes(in_channels=in_channels, out_channels=out_channels, width=width, kernel=kernel)
        self.in_channels = in_channels
        w = [width * 2 ** i for i in range(4)]
        self.inp = nn.Sequential(nn.Conv3d(in_channels, w[0], kernel, padding=kernel // 2),
                                 nn.BatchNorm3d(w[0]), nn.PReLU(w[0]))
        self.enc = nn.ModuleList(_VStage(c, n, kernel) for c, n in zip(w, (1, 2, 3, 3)))
        self.downs = nn.ModuleList(nn.Sequential(nn.Conv3d(w[i], w[i + 1], 2, stride=2),
                                                 nn.BatchNorm3d(w[i + 1]), nn.PReLU(w[i + 1]))
                                   for i in range(3))
        self.ups = nn.ModuleList(nn.ConvTranspose3d(w[i + 1], w[i], 2, stride=2) for i in range(3))
        self.fuse = nn.ModuleList(nn.Conv3d(2 * w[i], w[i], 1) for i in range(3))
        self.dec = nn.ModuleList(_VStage(w[i], n, kernel) for i, n in zip(range(3), (1, 2, 3)))
        self.head = nn.Conv3d(w[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 3, self.in_channels)
        if any(s % 8 for s in x.shape[2:]):
            raise ValueError(f"SmallVNet needs sizes divisible by 8, got {tuple(x.shape[2:])}; use vnet()")
        h = self.enc[0](self.inp(x))
        skips = [h]
        for i in range(3):
            h = self.enc[i + 1](self.downs[i](h))
            skips.append(h)
        for i in (2, 1, 0):
            h = self.dec[i](self.fuse[i](torch.cat([skips[i], self.ups[i](h)], dim=1)))
        return self.head(h)


def vnet(in_channels: int = 1, n_classes: int = 3, width: int | None = 8, kernel: int = 3) -> PadToMultiple:
    """V-Net [84] for 3D volumes of any size: :class:`SmallVNet` of ``width``, or MONAI's full-size
    ``VNet`` (16..256 channels, 5^3 kernels) with ``width=None``."""
    _check_sizes(in_channels=in_channels, n_classes=n_classes, kernel=kernel)
    if width is None:
        from monai.networks.nets import VNet

        # no dropout: MONAI >= 1.6 takes probabilities only (0.0, not None)
        return PadToMultiple(VNet(3, in_channels, n_classes, dropout_prob_down=0.0,
                                  dropout_prob_up=(0.0, 0.0)), 16)
    return PadToMultiple(SmallVNet(in_channels, n_classes, width, kernel), 8)


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell (Shi et al., NeurIPS 2015): the four LSTM gates are one
    ``kernel``-sized 2D convolution of the input and the hidden state, so the state keeps its
    spatial layout ``(B, hidden, H, W)``."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class BiConvLSTM(nn.Module):
    """Bidirectional ConvLSTM over a sequence ``(B, S, C, H, W)``: one cell runs first to last, one
    last to first; their hidden states are concatenated, giving ``(B, S, 2 * hidden, H, W)``."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.forward_cell = ConvLSTMCell(in_channels, hidden, kernel)
        self.backward_cell = ConvLSTMCell(in_channels, hidden, kernel)

    @staticmethod
    def _run(cell: ConvLSTMCell, steps: list[torch.Tensor]) -> list[torch.Tensor]:
        state, out = None, []
        for x in steps:
            state = cell(x, state)
            out.append(state[0])
        return out

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        if seq.ndim != 5:
            raise ValueError(f"expected a (B, S, C, H, W) sequence, got shape {tuple(seq.shape)}")
        steps = list(seq.unbind(1))
        fwd = self._run(self.forward_cell, steps)
        bwd = self._run(self.backward_cell, steps[::-1])[::-1]
        return torch.stack([torch.cat(p, dim=1) for p in zip(fwd, bwd)], dim=1)


class SliceSequenceUNet(nn.Module):
    """U-Net over a stack of 2D slices with a bidirectional ConvLSTM between encoder and decoder.

    Input ``(B, C_in, S, H, W)``: ``S`` adjacent slices. Every slice goes through the same 2D encoder;
    at the bottleneck a :class:`BiConvLSTM` runs along the slice axis in both directions, so each
    slice's deepest features see every other slice of the stack; the 2D decoder (with U-Net skips)
    then works slice by slice. The LSTM output is added to the bottleneck features (residual).
    Output: logits ``(B, n_classes, S, H, W)``. Any ``S`` (the whole volume at inference) and any
    ``H, W`` work.

    Follows the slice-sequence idea of Chen et al. [88] (2D FCN features, bidirectional ConvLSTM
    along z) with the ConvLSTM placed between encoder and decoder as in BCDU-Net (Azad et al. [87]);
    small and simplified for CPU budgets.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 3,
                 features: Sequence[int] = (16, 32, 64, 128), kernel: int = 3):
        super().__init__()
        _check_sizes(in_channels=in_channels, out_channels=out_channels, features=features, kernel=kernel)
        if len(features) < 2:
            raise ValueError(f"SliceSequenceUNet needs at least 2 stages, got features={tuple(features)}")
        if features[-1] % 2:
            raise ValueError(f"the deepest width must be even (two LSTM directions), got {features[-1]}")
        self.in_channels = in_channels
        f = list(features)
        chans = [in_channels, *f]
        self.down = nn.ModuleList(_block(2, a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.lstm = BiConvLSTM(f[-1], f[-1] // 2, kernel)
        self.up = nn.ModuleList(_block(2, f[i] + f[i + 1], f[i]) for i in range(len(f) - 1))
        self.head = nn.Conv2d(f[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 3, self.in_channels)
        b, s = x.shape[0], x.shape[2]
        h = x.movedim(2, 1).flatten(0, 1)                   # (B*S, C, H, W): slices as a batch
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        seq = h.unflatten(0, (b, s))
        h = h + self.lstm(seq).flatten(0, 1)
        for i in range(len(self.up) - 1, -1, -1):
            skip = skips[i]
            h = self.up[i](torch.cat([skip, _up(h, skip.shape[2:])], dim=1))
        return self.head(h).unflatten(0, (b, s)).movedim(1, 2)


def biconvlstm_unet(in_channels: int = 1, n_classes: int = 3,
                    features: Sequence[int] = (16, 32, 64, 128)) -> SliceSequenceUNet:
    """Slice-sequence U-Net with a bidirectional ConvLSTM bottleneck ([87], [88]); input
    ``(B, C, S, H, W)``, slices along axis 2."""
    return SliceSequenceUNet(in_channels, n_classes, features)
