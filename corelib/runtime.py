"""Run-time services: profile, device, seeding, threads and the run card.

Profiles size every notebook for the machine it runs on (see DESIGN.md):

- ``quick``: 2-core CPU, CI; each notebook finishes in about 150 s.
- ``full``: one GPU; bigger images, longer training.
- ``auto`` (default): ``full`` when CUDA is available, else ``quick``.

Set the profile with the environment variable ``CORELIB_PROFILE``.
"""
from __future__ import annotations

import os
import platform
import random
from typing import Any, Iterable

import numpy as np
import torch

PROFILES = ("quick", "full", "auto")
PROFILE_ENV = "CORELIB_PROFILE"
THREADS_ENV = "CORELIB_THREADS"


def requested_profile() -> str:
    """The profile asked for in ``CORELIB_PROFILE`` (``auto`` when unset)."""
    value = os.environ.get(PROFILE_ENV, "auto").strip().lower() or "auto"
    if value not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={value!r} is not a profile; use one of {', '.join(PROFILES)}"
        )
    return value


def profile() -> str:
    """The effective profile: ``quick`` or ``full`` (``auto`` resolved by CUDA availability)."""
    value = requested_profile()
    if value == "auto":
        return "full" if torch.cuda.is_available() else "quick"
    return value


def device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick(quick: Any, full: Any) -> Any:
    """Return ``quick`` or ``full`` for the effective profile.

    >>> cfg = pick(quick=dict(size=64, steps=300), full=dict(size=160, steps=4000))
    """
    return full if profile() == "full" else quick


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally ask torch for deterministic kernels."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return seed


def set_threads(n: int | None = None) -> int:
    """Set torch's CPU thread count (``CORELIB_THREADS``, else all cores) and return it."""
    if n is None:
        n = int(os.environ.get(THREADS_ENV, os.cpu_count() or 1))
    if n < 1:
        raise ValueError(f"thread count must be at least 1, got {n}")
    torch.set_num_threads(n)
    return n


def versions() -> dict[str, str]:
    """Versions of the libraries a result depends on."""
    import monai

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "numpy": np.__version__,
    }
    from corelib import __version__

    out["corelib"] = __version__
    return out


def run_card(seed: int = 0, datasets: Iterable[str] = (), threads: int | None = None) -> dict[str, Any]:
    """Seed, set threads and print the run card at the top of a notebook; return it as a dict.

    ``datasets`` names registry datasets; their versions and where they were found are listed.
    """
    seed_everything(seed)
    n_threads = set_threads(threads)
    dev = device()
    card: dict[str, Any] = {
        "profile": profile(),
        "requested profile": requested_profile(),
        "device": _device_name(dev),
        "threads": n_threads,
        "seed": seed,
        **versions(),
    }
    if datasets:
        from corelib.data import dataset_versions

        card.update({f"data: {k}": v for k, v in dataset_versions(list(datasets)).items()})
    width = max(len(k) for k in card)
    print("Run card")
    for key, value in card.items():
        print(f"  {key:<{width}}  {value}")
    return card


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
