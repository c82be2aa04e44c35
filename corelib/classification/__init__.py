"""Chapter 4.1 classification: handcrafted features, CNN families, transfer, curriculum, attention, fusion."""
from corelib.classification.attention import AttentionGate, gradcam
from corelib.classification.curriculum import CurriculumStream, pacing, probe_difficulty, prototype_difficulty
from corelib.classification.features import (CLASSIFIERS, extract_features, first_order_features, fit_select,
                                             fuse_features, glcm_features, glrlm_features, shape_features)
from corelib.classification.nets import NETS, AlexNet28, ResNet18Small, VGG28, build_net
from corelib.classification.training import (BatchStream, Splits, augment, evaluate_binary, load_splits,
                                             predict_scores, stratified_fraction, to_tensor, train_classifier)
from corelib.classification.transfer import (RotationStream, deep_features, pretext_slices, replace_head,
                                             set_backbone_trainable)

__all__ = [
    "AttentionGate", "gradcam", "CurriculumStream", "pacing", "probe_difficulty", "prototype_difficulty",
    "CLASSIFIERS", "extract_features", "first_order_features", "fit_select", "fuse_features", "glcm_features",
    "glrlm_features", "shape_features", "NETS", "AlexNet28", "ResNet18Small", "VGG28", "build_net",
    "BatchStream", "Splits", "augment", "evaluate_binary", "load_splits", "predict_scores", "stratified_fraction",
    "to_tensor", "train_classifier", "RotationStream", "deep_features", "pretext_slices", "replace_head",
    "set_backbone_trainable",
]
from corelib.classification.benchmark import MEDMNIST_V2_REPORTED, plot_roc, results_table  # noqa: E402

__all__ += ["MEDMNIST_V2_REPORTED", "plot_roc", "results_table"]
