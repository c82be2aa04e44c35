"""Chapter 3.2, segmentation: networks (FCN, U-Net, UNet++, R2U-Net, V-Net, Bi-ConvLSTM U-Net),
losses (CE, Dice, focal, Combo, deep supervision), adversarial training (SegAN), whole-volume
evaluation, and atlas-based segmentation from one labelled atlas."""
from corelib.segmentation.adversarial import SegANCritic, SegANStep, multiscale_l1
from corelib.segmentation.atlas import (DEEP_GREY, AtlasSegmentation, atlas_segment, augment_intensity, deform,
                                        merge_labels, resample_to_grid, structure_box)
from corelib.segmentation.hippocampus import HIPPOCAMPUS_PAD, HippocampusSplit, hippocampus_split
from corelib.segmentation.losses import LOSSES, ComboLoss, check_target, deep_supervision, make_loss
from corelib.segmentation.nets import (FCN, BiConvLSTM, ConvLSTMCell, PadToMultiple, R2UNet, SliceSequenceUNet,
                                       SmallVNet, biconvlstm_unet, count_parameters, fcn, r2unet, unet,
                                       unet_plus_plus, vnet)
from corelib.segmentation.volumes import (PaddedVolumes, evaluate, keep_largest_components, pad_cases,
                                          pad_volumes, predict_2d, predict_3d, predict_sequence,
                                          predict_triplanar, random_crops, segment, slice_stack,
                                          summary_row, val_dice)

__all__ = [
    # networks
    "BiConvLSTM", "ConvLSTMCell", "FCN", "PadToMultiple", "R2UNet", "SliceSequenceUNet", "SmallVNet",
    "biconvlstm_unet", "count_parameters", "fcn", "r2unet", "unet", "unet_plus_plus", "vnet",
    # losses and adversarial training
    "LOSSES", "ComboLoss", "SegANCritic", "SegANStep", "check_target", "deep_supervision", "make_loss",
    "multiscale_l1",
    # volumes, inference, evaluation
    "PaddedVolumes", "evaluate", "keep_largest_components", "pad_volumes", "predict_2d", "predict_3d",
    "predict_sequence", "predict_triplanar", "random_crops", "segment", "slice_stack", "summary_row",
    "pad_cases", "val_dice",
    # the hippocampus set-up of 3.2a-c
    "HIPPOCAMPUS_PAD", "HippocampusSplit", "hippocampus_split",
    # one labelled atlas
    "DEEP_GREY", "AtlasSegmentation", "atlas_segment", "augment_intensity", "deform", "merge_labels",
    "resample_to_grid", "structure_box",
]
