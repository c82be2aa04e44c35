"""Chapter 2.2, synthesis: image-to-image translation (pix2pix, CycleGAN, gradient consistency)
and the classical contrast-synthesis baselines (tissue lookup, histogram matching)."""
from corelib.synthesis.baselines import (TissueLookup, gradient_correlation_slices, histogram_match,
                                         kmeans_tissues, synthesis_scores, tissue_ratios)
from corelib.synthesis.data import PoolBatches, brain_slab, elastic_pool
from corelib.synthesis.translate import (CycleGAN, CycleGANStep, PatchCritic, Pix2PixStep, check_pair,
                                         cycle_loss, gradient_correlation, identity_loss,
                                         unet_generator)

__all__ = ["PoolBatches", "brain_slab", "elastic_pool", "TissueLookup", "gradient_correlation_slices", "histogram_match", "kmeans_tissues",
           "synthesis_scores", "tissue_ratios", "CycleGAN", "CycleGANStep", "PatchCritic",
           "Pix2PixStep", "check_pair", "cycle_loss", "gradient_correlation", "identity_loss",
           "unet_generator"]
