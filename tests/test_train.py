"""Tests for corelib.train: the training loop, best-model keeping and checkpoints (tiny, CPU)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from corelib.train import History, fit, load_checkpoint, save_checkpoint, to_device

CPU = torch.device("cpu")


def _regression(n: int = 64, batch_size: int = 16, shuffle: bool = False) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


def _fit(model: nn.Module, loader=None, **kw) -> History:
    kw.setdefault("progress", False)
    return fit(model, loader if loader is not None else _regression(), nn.MSELoss(), device=CPU, **kw)


def test_loss_decreases_on_tiny_regression():
    torch.manual_seed(0)
    h = _fit(nn.Linear(3, 1), steps=150, lr=0.05, progress=True)
    assert len(h.train_loss) == h.steps == 150
    assert sum(h.train_loss[-10:]) / 10 < 0.01 * h.train_loss[0]
    assert h.seconds > 0
    d = h.to_dict()
    assert set(d) == {"train_loss", "steps", "val", "best", "seconds"}


def test_steps_and_epochs_counts():
    loader = _regression(n=64, batch_size=16)  # 4 batches per epoch
    assert _fit(nn.Linear(3, 1), loader, steps=10).steps == 10  # cycles through the loader
    h = _fit(nn.Linear(3, 1), loader, epochs=3)
    assert h.steps == len(h.train_loss) == 12


def test_val_cadence_and_context():
    model = nn.Linear(3, 1)
    seen = []

    def val_fn(m: nn.Module) -> dict[str, float]:
        seen.append((m.training, torch.is_grad_enabled()))
        return {"val_loss": 1.0, "other": 2}

    h = _fit(model, steps=10, val_fn=val_fn, val_every=3)
    assert [v["step"] for v in h.val] == [3, 6, 9, 10]  # every 3 steps and at the end
    assert all(not training and not grad for training, grad in seen)
    assert model.training  # back in train mode afterwards
    assert h.val[0] == {"step": 3, "val_loss": 1.0, "other": 2.0}
    h = _fit(nn.Linear(3, 1), epochs=2, val_fn=val_fn)  # default: once per epoch
    assert [v["step"] for v in h.val] == [4, 8]
    h = _fit(nn.Linear(3, 1), steps=20, val_fn=val_fn)  # default: steps // 10
    assert [v["step"] for v in h.val] == list(range(2, 21, 2))


@pytest.mark.parametrize("mode, scores", [("min", [3.0, 1.0, 2.0, 5.0]), ("max", [0.1, 0.9, 0.5, 0.2])])
def test_best_weights_are_a_copy_of_the_best_validation(mode, scores):
    """Guards against keeping an alias of ``state_dict()``: the best must not track the last."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    weights, it = [], iter(scores)

    def val_fn(m: nn.Module) -> dict[str, float]:
        weights.append(m.weight.detach().clone())
        return {"score": next(it)}

    h = _fit(model, steps=8, lr=0.05, val_fn=val_fn, val_every=2, monitor="score", mode=mode)
    assert h.best == {"step": 4, "score": scores[1]}
    assert not torch.equal(weights[1], weights[-1])  # training moved the weights on
    assert torch.equal(model.weight, weights[1])  # restored: the best, not the last

    torch.manual_seed(0)
    model, weights, it = nn.Linear(3, 1), [], iter(scores)
    _fit(model, steps=8, lr=0.05, val_fn=val_fn, val_every=2, monitor="score", mode=mode, restore_best=False)
    assert torch.equal(model.weight, weights[-1])


def test_seeded_runs_are_identical():
    def run(seed: int) -> list[float]:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
        return _fit(model, _regression(shuffle=True), steps=12).train_loss

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_batch_fn_grad_clip_and_scheduler():
    loader = [{"image": torch.randn(4, 3), "target": torch.randn(4, 1)} for _ in range(3)]
    calls = []

    def batch_fn(model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        calls.append(device)
        b = to_device(batch, device)
        return nn.functional.mse_loss(model(b["image"]), b["target"])

    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)  # noqa: E731
    h = fit(model, loader, None, optimizer=opt, steps=4, batch_fn=batch_fn, grad_clip=0.1,
            scheduler=sched, device="cpu", progress=False)
    assert h.steps == 4 and len(calls) == 4
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)


def test_non_finite_loss_raises():
    def batch_fn(model, batch, device):
        return model(batch[0]).sum() * float("nan")

    with pytest.raises(FloatingPointError, match="step 1"):
        fit(nn.Linear(3, 1), _regression(), None, steps=3, batch_fn=batch_fn, device=CPU, progress=False)


def test_bad_inputs():
    model = nn.Linear(3, 1)
    with pytest.raises(ValueError, match="exactly one"):
        _fit(model, steps=3, epochs=1)
    with pytest.raises(ValueError, match="exactly one"):
        _fit(model)
    with pytest.raises(ValueError, match="positive integer"):
        _fit(model, steps=0)
    with pytest.raises(ValueError, match="mode"):
        _fit(model, steps=2, mode="best")
    with pytest.raises(ValueError, match="loss_fn"):
        fit(model, _regression(), None, steps=2, progress=False)
    empty = DataLoader(TensorDataset(torch.zeros(0, 3), torch.zeros(0, 1)), batch_size=4)
    with pytest.raises(ValueError, match="empty"):
        _fit(model, empty, steps=2)

    def no_batches():
        return iter(())

    class Unsized:
        __iter__ = staticmethod(no_batches)

    with pytest.raises(ValueError, match="no batches"):
        _fit(model, Unsized(), epochs=1)
    with pytest.raises(KeyError, match="val_loss"):
        _fit(model, steps=2, val_fn=lambda m: {"dice": 0.5})
    with pytest.raises(TypeError, match="batch_fn"):
        _fit(model, [torch.zeros(2, 3)], steps=1)


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    h = _fit(model, steps=5, optimizer=opt)
    path = save_checkpoint(tmp_path / "sub" / "ckpt.pt", model, opt, history=h.to_dict(), epoch=3,
                           mean=torch.tensor([0.5]))
    assert path.is_file()

    model2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    extra = load_checkpoint(path, model2, opt2)
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert torch.equal(a, b), k
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    assert extra["epoch"] == 3 and extra["history"] == h.to_dict()
    assert torch.equal(extra["mean"], torch.tensor([0.5]))


def test_checkpoint_errors_name_the_path(tmp_path):
    model = nn.Linear(3, 1)
    missing = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(missing, model)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="corrupt.pt"):
        load_checkpoint(corrupt, model)
    good = save_checkpoint(tmp_path / "good.pt", model)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="truncated.pt"):
        load_checkpoint(truncated, model)
    with pytest.raises(RuntimeError, match="good.pt"):
        load_checkpoint(good, nn.Linear(4, 1))
    with pytest.raises(ValueError, match="optimizer"):
        load_checkpoint(good, model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="plain"):
        save_checkpoint(tmp_path / "bad.pt", model, note=object())


def test_amp_flag_is_ignored_on_cpu():
    torch.manual_seed(0)
    a = _fit(nn.Linear(3, 1), steps=3, amp=True).train_loss
    torch.manual_seed(0)
    b = _fit(nn.Linear(3, 1), steps=3, amp=False).train_loss
    assert a == b


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_autocast_on_cuda():
    dtypes = []

    def batch_fn(model, batch, device):
        x, y = to_device(batch, device)
        out = model(x)
        dtypes.append(out.dtype)
        return nn.functional.mse_loss(out.float(), y)

    model = nn.Linear(3, 1)
    fit(model, _regression(), None, steps=2, batch_fn=batch_fn, device="cuda", progress=False)
    fit(model, _regression(), None, steps=1, batch_fn=batch_fn, device="cuda", amp=False, progress=False)
    assert dtypes == [torch.bfloat16, torch.bfloat16, torch.float32]
    assert next(model.parameters()).dtype == torch.float32


class _RunsCode:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_unsafe_checkpoint_is_refused_without_advice_to_disable_the_check(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": _RunsCode()}, path)
    with pytest.raises(RuntimeError, match="not a safe checkpoint") as err:
        load_checkpoint(path, nn.Linear(3, 1))
    assert "weights_only=False" not in str(err.value)


def test_checkpoint_to_a_folder_is_refused_and_leaves_nothing(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_checkpoint(folder, nn.Linear(3, 1))
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_failed_checkpoint_write_removes_its_temporary_file(tmp_path, monkeypatch):
    def failing_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 1))
    assert list(tmp_path.iterdir()) == []


def test_smoke_run_trains_two_steps_and_validates_once(monkeypatch):
    monkeypatch.setenv("CORELIB_SMOKE", "1")
    calls = []
    h = _fit(nn.Linear(3, 1), steps=500, val_every=1,
             val_fn=lambda m: calls.append(1) or {"val_loss": 1.0})
    assert h.steps == 2 and len(calls) == 1 and h.val[0]["step"] == 2
    h = _fit(nn.Linear(3, 1), epochs=3, val_fn=lambda m: {"val_loss": 1.0})
    assert h.steps == 2 and [v["step"] for v in h.val] == [2]
