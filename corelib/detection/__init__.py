"""Survey §4.2, detection: box utilities, AP/FROC, focal loss, RetinaNet, patch-wise and classical detectors.

Boxes are ``(x_min, y_min, x_max, y_max)`` in pixels, x along the columns (see
:mod:`corelib.detection.boxes`, which also converts to MONAI's row-first order).
"""
from corelib.detection.boxes import *  # noqa: F401,F403
from corelib.detection.evaluate import *  # noqa: F401,F403
from corelib.detection.losses import *  # noqa: F401,F403
from corelib.detection.retinanet import *  # noqa: F401,F403
from corelib.detection.patch import *  # noqa: F401,F403
from corelib.detection.classical import *  # noqa: F401,F403
