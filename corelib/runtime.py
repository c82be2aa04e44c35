"""Run-time services: profile, device, seeding, threads and the run card.

Profiles size every notebook for the machine it runs on (budgets in CONTRIBUTING.md, section 4):

- ``quick``: 2-core CPU, CI; each notebook finishes in about 150 s.
- ``full``: one GPU; bigger images, longer training.
- ``auto`` (default): ``full`` when CUDA is available, else ``quick``.

Set the profile with the environment variable ``CORELIB_PROFILE``.

Smoke mode (``CORELIB_SMOKE=1``, usually with ``CORELIB_PROFILE=full``) runs a notebook's
configuration end to end with training and evaluation cut short, so that code paths of a profile
that CI cannot afford still execute. Every training and evaluation loop sizes itself through
:func:`steps` and :func:`cases` (``corelib.train.fit`` does so itself); quality checks and claim
verdicts go through ``corelib.report.check`` / ``report.claim``, which only record in smoke mode.
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
SMOKE_ENV = "CORELIB_SMOKE"
SMOKE_STEPS = 2
SMOKE_CASES = 2
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


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


def _smoke_run() -> bool:
    value = os.environ.get(SMOKE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{SMOKE_ENV}={value!r}: use 1 (smoke run) or 0")


def pick(quick: Any, full: Any, smoke: dict | None = None) -> Any:
    """Return ``quick`` or ``full`` for the effective profile.

    >>> cfg = pick(quick=dict(size=64, steps=300), full=dict(size=160, steps=4000))

    When both are dicts they must have the same keys (a key set only in one profile would make
    the other fail later, or silently fall back to a default).

    ``smoke`` overrides some of those keys in a smoke run (``CORELIB_SMOKE=1``), typically the
    batch sizes: two steps of a full-size network at its full batch can cost a minute on a CPU,
    and a smoke run only has to execute the code path (``smoke=dict(batch=2)``).
    """
    if isinstance(quick, dict) and isinstance(full, dict) and quick.keys() != full.keys():
        only_q, only_f = sorted(set(quick) - set(full)), sorted(set(full) - set(quick))
        raise ValueError(f"pick(): the profiles define different keys: only in quick {only_q}, "
                         f"only in full {only_f}")
    chosen = full if profile() == "full" else quick
    if smoke is None:
        return chosen
    if not isinstance(smoke, dict) or not isinstance(chosen, dict):
        raise TypeError("pick(smoke=...) needs dicts for quick, full and smoke")
    unknown = sorted(set(smoke) - set(chosen))
    if unknown:
        raise ValueError(f"pick(): smoke overrides keys the profiles do not define: {unknown}")
    return {**chosen, **smoke} if _smoke_run() else chosen


def smoke() -> bool:
    """True when ``CORELIB_SMOKE`` asks for a smoke run (1/true/yes/on)."""
    return _smoke_run()


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def steps(n: int, smoke_steps: int = SMOKE_STEPS) -> int:
    """``n`` training steps, or at most ``smoke_steps`` in smoke mode."""
    n = _count(n, "steps")
    return min(n, _count(smoke_steps, "smoke_steps")) if smoke() else n


def cases(seq: Any, smoke_cases: int = SMOKE_CASES) -> Any:
    """``seq`` (a list, range, array or tensor of cases), or its first ``smoke_cases`` in smoke mode."""
    if isinstance(seq, (str, bytes)) or not hasattr(seq, "__getitem__") or not hasattr(seq, "__len__"):
        raise TypeError(f"cases() needs a sequence (list, range, array), got {type(seq).__name__}")
    if len(seq) == 0:
        raise ValueError("cases() got an empty sequence")
    return seq[:_count(smoke_cases, "smoke_cases")] if smoke() else seq


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally ask torch for deterministic kernels."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
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
        raw = os.environ.get(THREADS_ENV, "").strip()
        try:
            n = int(raw) if raw else (os.cpu_count() or 1)
        except ValueError:
            raise ValueError(f"{THREADS_ENV}={raw!r} is not a whole number of threads") from None
        if n < 1:
            raise ValueError(f"{THREADS_ENV}={raw!r}: the thread count must be at least 1")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"thread count must be a positive integer, got {n!r}")
    n = int(n)
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
    if isinstance(datasets, (str, bytes)):
        raise TypeError(f"datasets must be a list of dataset names, e.g. [{datasets!r}], got {datasets!r}")
    seed_everything(seed)
    n_threads = set_threads(threads)
    dev = device()
    card: dict[str, Any] = {
        "profile": profile() + (" (smoke: training and evaluation cut short)" if smoke() else ""),
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
