"""Chapter 3.1 registration: classical baselines, learned registration (VoxelMorph family), losses.

Field convention everywhere: ``(ndim, *shape)`` (numpy) or ``(B, ndim, *shape)`` (torch), in
voxels, channel ``i`` = array axis ``i``, ``warped(x) = moving(x + u(x))``.
"""
from corelib.registration.classical import (RegistrationResult, affine_register, affine_then_demons,
                                            demons_register, euler_transform,
                                            transform_to_displacement, warp)
from corelib.registration.data import (hippocampus_experiment, hippocampus_pairs, make_pairs,
                                       pad_or_crop)
from corelib.registration.experiment import (dice_validation, evaluate_fields, inverse_errors,
                                             pair_scores, pair_seconds, predict_fields,
                                             registration_loss)
from corelib.registration.learned import (RegNet, RigidRegressor, integrate_velocity, one_hot,
                                          rigid_displacement, rigid_inverse, warp_tensor)
from corelib.registration.losses import (gradient_smoothness, inverse_consistency, jacobian_det,
                                         label_dice_loss, mse, ncc, negative_jacobian_penalty)

__all__ = ["RegistrationResult", "affine_register", "affine_then_demons", "demons_register",
           "euler_transform", "transform_to_displacement", "warp", "hippocampus_experiment",
           "hippocampus_pairs", "make_pairs", "pad_or_crop", "RegNet", "RigidRegressor",
           "integrate_velocity", "one_hot", "rigid_displacement", "rigid_inverse", "warp_tensor",
           "gradient_smoothness", "inverse_consistency", "jacobian_det", "label_dice_loss", "mse",
           "ncc", "negative_jacobian_penalty", "evaluate_fields", "pair_scores", "dice_validation",
           "inverse_errors", "pair_seconds", "predict_fields", "registration_loss"]
