"""Real medical images, offline first: the dataset registry, loaders and torch datasets.

Every dataset is defined in :mod:`corelib.data.catalogue`. ``corelib.data.status()`` prints every
dataset, whether it was found, and how to get it.
"""
from corelib.data.registry import (  # noqa: F401
    CorruptFileError,
    DataError,
    DataNotFoundError,
    DatasetCard,
    UnknownDatasetError,
    cache_dir,
    card,
    dataset_versions,
    locate,
    mirror_dir,
    names,
    status,
)
from corelib.data.io import Volume, read_nifti  # noqa: F401
from corelib.data.preprocess import *  # noqa: F401,F403
from corelib.data.packaged import *  # noqa: F401,F403
from corelib.data.remote import *  # noqa: F401,F403
from corelib.data.datasets import *  # noqa: F401,F403
