"""One small training loop used by every chapter, and checkpoints.

``fit`` trains for a number of optimizer steps or epochs, shows a progress bar with the loss,
validates every ``val_every`` steps, keeps a deep copy of the best weights and restores them at
the end (in smoke mode, ``corelib.runtime.smoke()``, it stops after a couple of steps). On CUDA it
runs under bf16 autocast. It returns a :class:`History` (data only; the
curves are drawn by ``corelib.viz``).
"""
from __future__ import annotations

import contextlib
import copy
import math
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from corelib import runtime, validate

__all__ = ["History", "fit", "to_device", "save_checkpoint", "load_checkpoint"]

BatchFn = Callable[[nn.Module, Any, torch.device], torch.Tensor]
ValFn = Callable[[nn.Module], Mapping[str, float]]


@dataclass
class History:
    """What a run did: one train loss per step, one dict per validation (with its ``step``)."""

    train_loss: list[float] = field(default_factory=list)
    steps: int = 0
    val: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy (safe for JSON and for :func:`save_checkpoint`)."""
        return asdict(self)


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move tensors (also inside lists, tuples and dicts) to ``device``; leave anything else as is."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def _default_batch_fn(loss_fn: Callable[..., torch.Tensor]) -> BatchFn:
    def batch_fn(model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        if not isinstance(batch, (list, tuple)) or len(batch) != 2:
            raise TypeError("the default batch handling expects (x, y) batches; pass batch_fn for others")
        x, y = to_device(batch, device)
        return loss_fn(model(x), y)

    return batch_fn


def _positive_int(value: Any, name: str) -> int:
    return validate.positive_int(name, value)  # NumPy integers too; bool, float and < 1 refused


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    epochs: int | None = None,
    steps: int | None = None,
    val_fn: ValFn | None = None,
    val_every: int | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    restore_best: bool = True,
    device: torch.device | str | None = None,
    amp: bool | None = None,
    grad_clip: float | None = None,
    scheduler: Any = None,
    progress: bool = True,
    desc: str = "train",
    batch_fn: BatchFn | None = None,
) -> History:
    """Train ``model`` and return its :class:`History`.

    Give exactly one of ``steps`` (optimizer steps, cycling through the loader) or ``epochs``.
    Each batch is ``(x, y)`` and its loss ``loss_fn(model(x), y)``, unless ``batch_fn(model, batch,
    device) -> loss`` is given (then ``loss_fn`` may be None). The optimizer defaults to Adam(``lr``).

    ``val_fn(model) -> {name: value}`` runs in eval mode under ``torch.no_grad()`` every
    ``val_every`` steps (default: every epoch with ``epochs``, ``steps // 10`` with ``steps``) and
    after the last step. The best value of ``val[monitor]`` (``mode`` "min" or "max") is kept with a
    deep copy of the weights, restored at the end when ``restore_best``.

    ``amp``: bf16 autocast on CUDA when None or True; never on CPU. ``grad_clip``: max gradient
    norm. ``scheduler``: an LR scheduler, or a callable ``optimizer -> scheduler``; it steps after
    every optimizer step (``ReduceLROnPlateau`` steps on the monitored value at each validation).
    A non-finite loss raises ``FloatingPointError``; a NaN value of ``val[monitor]`` raises
    ``ValueError`` (no best weights could be kept from it).
    """
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one of epochs or steps")
    steps = None if steps is None else validate.positive_int("steps", steps)
    epochs = None if epochs is None else validate.positive_int("epochs", epochs)
    if optimizer is None:
        validate.positive("lr", lr)
    if grad_clip is not None:
        validate.positive("grad_clip", grad_clip)
    if not isinstance(monitor, str):
        raise validate.ArgumentTypeError(f"monitor must be the name of a val_fn metric, got {monitor!r}")
    if not hasattr(model, "parameters") or not callable(getattr(model, "parameters")):
        raise validate.ArgumentTypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if steps is not None:
        _positive_int(steps, "steps")
    else:
        _positive_int(epochs, "epochs")
    if val_every is not None:
        _positive_int(val_every, "val_every")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if batch_fn is None:
        if loss_fn is None:
            raise ValueError("give loss_fn, or batch_fn for non-standard batches")
        batch_fn = _default_batch_fn(loss_fn)
    try:
        n_batches: int | None = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        n_batches = None
    if n_batches == 0:
        raise ValueError("train_loader is empty")
    if runtime.smoke():  # a smoke run executes the code path, not the training
        steps = runtime.steps(steps if steps is not None else epochs * (n_batches or 1))
        epochs, val_every = None, steps  # and validates once, at the end
    if val_every is None and steps is not None:
        val_every = max(1, steps // 10)

    device = torch.device(device) if device is not None else runtime.device()
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    if scheduler is not None and not hasattr(scheduler, "step"):
        scheduler = scheduler(optimizer)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    use_amp = device.type == "cuda" and amp is not False
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    )

    from tqdm.auto import tqdm

    total = steps if steps is not None else (epochs * n_batches if n_batches else None)
    bar = tqdm(total=total, desc=desc, disable=not progress)
    hist = History()
    best_state: dict[str, Any] | None = None
    start = time.perf_counter()

    def evaluate(step: int) -> None:
        nonlocal best_state
        model.eval()
        with torch.no_grad():
            metrics = val_fn(model)  # type: ignore[misc]
        model.train()
        if not isinstance(metrics, Mapping):
            raise TypeError(f"val_fn must return a dict of metrics, got {type(metrics).__name__}")
        record = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        hist.val.append(record)
        if monitor not in metrics:
            raise KeyError(f"val_fn returned {sorted(metrics)}; the monitored {monitor!r} is not among them")
        value = record[monitor]
        if math.isnan(value):  # no best weights could be kept: say so instead of going on silently
            raise ValueError(f"val_fn returned {monitor}=nan at step {step}; fix the validation metric "
                             "(e.g. a class missing from the validation data) or monitor another one")
        old = hist.best.get(monitor)
        if not math.isnan(value) and (old is None or (value < old if mode == "min" else value > old)):
            hist.best = dict(record)
            best_state = copy.deepcopy(model.state_dict())  # a copy, not an alias of live weights
        if plateau:
            scheduler.step(value)
        bar.set_postfix({"loss": f"{hist.train_loss[-1]:.4g}", monitor: f"{value:.4g}"}, refresh=False)

    model.train()
    step, epoch, done = 0, 0, False
    try:
        while not done:
            seen = 0
            for batch in train_loader:
                seen += 1
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    loss = batch_fn(model, batch, device)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise FloatingPointError(f"loss is {value} at step {step + 1}")
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                if scheduler is not None and not plateau:
                    scheduler.step()
                step += 1
                hist.train_loss.append(value)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                if val_fn is not None and val_every is not None and step % val_every == 0:
                    evaluate(step)
                if steps is not None and step >= steps:
                    done = True
                    break
            if seen == 0:
                raise ValueError("train_loader yielded no batches")
            if epochs is not None:
                epoch += 1
                if val_fn is not None and val_every is None:
                    evaluate(step)
                done = done or epoch >= epochs
        if val_fn is not None and (not hist.val or hist.val[-1]["step"] != step):
            evaluate(step)
    finally:
        bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    hist.steps = step
    hist.seconds = time.perf_counter() - start
    if progress:  # one static line: the progress bar is a widget that a rendered page cannot show
        best = f", best {monitor} {hist.best[monitor]:.4g} at step {hist.best['step']}" if hist.best else ""
        print(f"{desc}: {step} steps in {hist.seconds:.1f} s, last loss {hist.train_loss[-1]:.4g}{best}")
    return hist


# ----------------------------------------------------------------------------- checkpoints
def _check_plain(obj: Any, where: str) -> None:
    """Only what ``torch.load(weights_only=True)`` reads back: tensors and plain Python values."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where} has a key of type {type(k).__name__}; use str or int keys")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__name__}; checkpoints hold only tensors and plain Python values "
        "(convert arrays with torch.as_tensor or .tolist())"
    )


def save_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra: Any
) -> Path:
    """Save model (and optimizer) state plus ``extra`` plain values (e.g. ``history=h.to_dict()``).

    The file is written atomically (temporary file, then rename); parent folders are created.
    """
    _check_plain(extra, "extra")
    path = Path(path)
    payload: dict[str, Any] = {"model": model.state_dict(), "extra": extra}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint path {path} is a folder; give a file name, e.g. {path / 'model.pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written or orphaned temporary file
        raise
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``); return its extras.

    Reads with ``torch.load(weights_only=True)``. A missing, corrupt or mismatched file raises an
    error that names ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(f"{path} is not a safe checkpoint: it holds Python objects other than tensors "
                           "and plain values, which could run code when loaded. It was not loaded. "
                           "Use checkpoints written by save_checkpoint, from a source you trust.") from None
    except Exception as exc:
        raise RuntimeError(f"could not read checkpoint {path} (corrupt or truncated?): {exc}") from exc
    if not isinstance(payload, dict) or "model" not in payload:
        raise ValueError(f"{path} is not a corelib checkpoint (no 'model' entry)")
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise RuntimeError(f"checkpoint {path} does not fit this model: {exc}") from exc
    if optimizer is not None:
        if "optimizer" not in payload:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    return payload.get("extra", {})
