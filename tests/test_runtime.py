import numpy as np
import pytest
import torch

from corelib import runtime as rt


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CORELIB_PROFILE", "quick")
    assert rt.profile() == "quick"
    assert rt.pick(quick=1, full=2) == 1
    monkeypatch.setenv("CORELIB_PROFILE", "FULL")
    assert rt.profile() == "full"
    assert rt.pick(quick=1, full=2) == 2


def test_auto_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("CORELIB_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert rt.requested_profile() == "auto"
    assert rt.profile() == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert rt.profile() == "full"


def test_bad_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("CORELIB_PROFILE", "fast")
    with pytest.raises(ValueError, match="quick, full, auto"):
        rt.profile()


def test_seed_everything_is_deterministic():
    rt.seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))
    rt.seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        rt.seed_everything(bad)


def test_threads(monkeypatch):
    monkeypatch.setenv("CORELIB_THREADS", "1")
    assert rt.set_threads() == 1
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError):
        rt.set_threads(0)


def test_run_card_prints_profile_device_seed_and_versions(capsys, monkeypatch):
    monkeypatch.setenv("CORELIB_PROFILE", "quick")
    card = rt.run_card(seed=3, threads=1)
    out = capsys.readouterr().out
    for key in ("profile", "device", "seed", "torch", "monai"):
        assert key in card and key in out
    assert card["seed"] == 3 and card["profile"] == "quick"


def test_pick_applies_smoke_overrides_only_in_a_smoke_run(monkeypatch):
    monkeypatch.setenv("CORELIB_PROFILE", "full")
    profiles = dict(quick=dict(batch=8, steps=10), full=dict(batch=64, steps=4000))
    monkeypatch.setenv("CORELIB_SMOKE", "0")
    assert rt.pick(**profiles, smoke=dict(batch=2)) == dict(batch=64, steps=4000)
    monkeypatch.setenv("CORELIB_SMOKE", "1")
    assert rt.pick(**profiles, smoke=dict(batch=2)) == dict(batch=2, steps=4000)
    assert profiles["full"]["batch"] == 64  # the profile dict itself is not changed
    with pytest.raises(ValueError, match=r"\['bacth'\]"):
        rt.pick(**profiles, smoke=dict(bacth=2))
    with pytest.raises(TypeError, match="dicts"):
        rt.pick(quick=1, full=2, smoke=dict(batch=2))
