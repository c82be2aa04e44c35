"""corelib: the slim, tested core of the Wang & Qin (2020) companion book.

Each survey chapter has one sub-package (restoration, synthesis, registration, segmentation,
classification, detection); shared services live beside them (runtime, data, train, metrics, viz,
report). Notebooks import from here and stay short.
"""

__version__ = "0.1.0"
