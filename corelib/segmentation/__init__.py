"""Chapter 3.2, segmentation: networks (FCN, U-Net, UNet++, R2U-Net, V-Net), losses (CE, Dice,
focal, Combo, deep supervision), adversarial training (SegAN) and whole-volume evaluation."""
from corelib.segmentation.losses import LOSSES, ComboLoss, check_target, deep_supervision, make_loss
from corelib.segmentation.nets import (FCN, PadToMultiple, R2UNet, SmallVNet, count_parameters, fcn,
                                       r2unet, unet, unet_plus_plus, vnet)
from corelib.segmentation.volumes import (PaddedVolumes, evaluate, pad_volumes, predict_2d, predict_3d,
                                          predict_triplanar, random_crops, segment, slice_stack,
                                          summary_row)

__all__ = [
    "ComboLoss", "FCN", "LOSSES", "PadToMultiple", "PaddedVolumes", "R2UNet", "SmallVNet", "check_target",
    "count_parameters", "deep_supervision", "evaluate", "fcn", "make_loss", "pad_volumes", "predict_2d",
    "predict_3d", "predict_triplanar", "r2unet", "random_crops", "segment", "slice_stack", "summary_row",
    "unet", "unet_plus_plus", "vnet",
]
from corelib.segmentation.adversarial import SegANCritic, SegANStep, multiscale_l1  # noqa: E402

__all__ += ["SegANCritic", "SegANStep", "multiscale_l1"]
