"""corelib: the slim, tested core of the Wang & Qin (2020) companion book.

Each survey chapter has one sub-package (restoration, registration, segmentation, classification,
and, as the book grows, synthesis and detection); shared services live beside them (runtime, data,
train, metrics, viz, report). Notebooks import from here and stay short.
"""
import warnings as _warnings

__version__ = "0.2.0"

# Known-benign library warnings, filtered once here so that no rendered page shows them (a notebook
# cell that writes anything else to stderr fails its run; see CONTRIBUTING.md). Each entry says why.
_BENIGN_WARNINGS = [
    # MONAI's Warp says which grid_sample backend it uses; the native one is what we want.
    r"monai\.networks\.blocks\.Warp: Using PyTorch native grid_sample",
]
for _message in _BENIGN_WARNINGS:
    _warnings.filterwarnings("ignore", message=_message)
