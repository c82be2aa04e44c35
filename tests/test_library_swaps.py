"""Library swaps of issue 10 §4: each corelib function that now calls a well-kept library is checked
against the hand-written code it replaced (kept here as the oracle, so the equivalence stays
tested), and each hand-written function that was kept is checked against the library where they
agree, with the difference that kept it pinned down.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

import corelib.segmentation as seg
from corelib import metrics
from corelib.classification import attention
from corelib.registration import data as reg_data
from corelib.registration import learned, losses as reg_losses
from corelib.restoration import superres
from corelib.segmentation import atlas, volumes


# ------------------------------------------------------------------ swapped: KeepLargestConnectedComponent
def _old_keep_largest(lab: np.ndarray, n: int, classes=None) -> np.ndarray:
    out = lab.copy()
    structure = np.ones((3,) * lab.ndim, bool)
    for c in (np.unique(lab[lab != 0]) if classes is None else classes):
        pieces, count = ndimage.label(lab == c, structure)
        if count <= n:
            continue
        sizes = np.bincount(pieces.ravel())[1:]
        keep = np.argsort(sizes)[::-1][:n] + 1
        out[(pieces > 0) & ~np.isin(pieces, keep)] = 0
    return out


def _speckle(rng, shape, p1=0.1, p2=0.05) -> np.ndarray:
    u = rng.random(shape)
    return np.where(u < p1, 1, np.where(u < p1 + p2, 2, 0)).astype(np.int64)


def _tie_at_cut(lab: np.ndarray, n: int) -> bool:
    for c in np.unique(lab[lab != 0]):
        pieces, k = ndimage.label(lab == c, np.ones((3,) * lab.ndim, bool))
        s = np.sort(np.bincount(pieces.ravel())[1:])[::-1]
        if k > n and s[n - 1] == s[n]:
            return True
    return False


def test_keep_largest_components_matches_replaced_code_except_ties():
    """MONAI's transform keeps the same pieces as the scipy version whenever no two pieces tie at
    the n-th place; at a tie it may keep another of the tied pieces (same voxel count)."""
    rng = np.random.default_rng(0)
    compared = ties = 0
    for trial in range(120):
        shape = [(20, 17, 23), (31, 30), (8, 9, 10), (1, 12, 5)][trial % 4]
        lab = _speckle(rng, shape, p1=[0.05, 0.1, 0.2][trial % 3])
        n = 1 + trial % 3
        new, old = seg.keep_largest_components(lab, n=n), _old_keep_largest(lab, n)
        if _tie_at_cut(lab, n):
            ties += 1
            for c in (1, 2):
                assert (new == c).sum() == (old == c).sum()
        else:
            compared += 1
            assert np.array_equal(new, old)
    assert compared > 20 and ties > 0   # both branches exercised


def test_keep_largest_components_leaves_input_and_dtype_alone():
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[1:3, 1:3, 1:3] = 1
    lab[6:9, 6:9, 6:9] = 1
    lab[0, 9, 0] = 2
    before = lab.copy()
    out = seg.keep_largest_components(lab, n=1)
    assert np.array_equal(lab, before)                    # MONAI edits its input in place: not ours
    assert out.dtype == np.uint8 and (out == 1).sum() == 27 and (out == 2).sum() == 1
    assert np.array_equal(seg.keep_largest_components(np.zeros((4, 4), np.int64)), np.zeros((4, 4)))
    boolean = np.zeros((6, 6), bool)
    boolean[0, 0] = boolean[3:5, 3:5] = True
    kept = seg.keep_largest_components(boolean)
    assert kept.dtype == bool and kept.sum() == 4 and not kept[0, 0]


# ------------------------------------------------------------------ swapped: SliceInferer
@torch.no_grad()
def _old_predict_2d(model, volume, axis=2, plane=None, batch=64) -> torch.Tensor:
    model.eval()
    v = torch.as_tensor(np.asarray(volume), dtype=torch.float32)
    s = v.movedim(axis, 0)[:, None]
    s, cut = volumes._pad_plane(s, plane)
    out = torch.cat([torch.softmax(model(s[i:i + batch]).float(), 1) for i in range(0, len(s), batch)])
    out = out[(slice(None), slice(None), *cut)]
    return out.movedim(1, 0).movedim(1, axis + 1)


@pytest.mark.parametrize("make", [lambda: seg.unet(2, 1, 3, channels=(4, 8)), lambda: seg.fcn(2, 1, 3)])
def test_predict_2d_is_bitwise_the_replaced_loop(make):
    torch.manual_seed(0)
    net = make()
    net.train()
    with torch.no_grad():                    # batch-norm statistics away from their defaults
        net(torch.randn(6, 1, 16, 16))
    rng = np.random.default_rng(1)
    for shape, axis, plane, batch in [((6, 10, 9), 2, None, 64), ((7, 11, 9), 0, (12, 12), 64),
                                      ((7, 11, 9), 1, (8, 12), 3), ((5, 13, 10), 2, (16, 16), 2)]:
        vol = rng.normal(size=shape).astype(np.float32)
        new = seg.predict_2d(net, vol, axis, plane, batch)
        assert new.shape == (3, *shape) and new.dtype == torch.float32
        assert torch.equal(new, _old_predict_2d(net, vol, axis, plane, batch))
    with pytest.raises(ValueError, match="do not fit"):
        seg.predict_2d(net, np.zeros((4, 9, 9), np.float32), 0, plane=(8, 12))


# ------------------------------------------------------------------ swapped: DeepSupervisionLoss
def _old_deep_supervision(loss, weights=None):
    def f(outputs, target):
        w = list(weights) if weights is not None else [0.5 ** i for i in range(len(outputs))]
        return sum(wi * loss(o, target) for wi, o in zip(w, outputs)) / sum(w)
    return f


@pytest.mark.parametrize("name", ["ce", "dice", "dicece", "focal", "combo"])
def test_deep_supervision_is_bitwise_the_replaced_sum(name):
    torch.manual_seed(0)
    base = seg.make_loss(name)
    y = torch.randint(0, 3, (2, 12, 10))
    for weights in (None, [1.0, 0.3, 0.2]):
        outs = [torch.randn(2, 3, 12, 10, requires_grad=True) for _ in range(3)]
        new = seg.deep_supervision(base, weights)(outs, y)
        grads = torch.autograd.grad(new, outs)
        old = _old_deep_supervision(base, weights)(outs, y)
        assert torch.equal(new, old)
        assert all(torch.equal(a, b) for a, b in zip(grads, torch.autograd.grad(old, outs)))
        assert torch.equal(seg.deep_supervision(base, weights)(outs, y[:, None]), old)   # (B, 1, ...) too


def test_deep_supervision_hand_value_and_plain_loss():
    out = [torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 3, 3)]
    target = torch.zeros(1, 3, 3, dtype=torch.long)
    ce = torch.nn.CrossEntropyLoss()             # a loss that wants (B, *spatial) targets
    # logits equal across the two classes: CE = log 2 for both outputs, whatever the weights
    assert float(seg.deep_supervision(ce)(out, target)) == pytest.approx(np.log(2))
    mse = lambda o, t: ((o[:, :1] - t.float()[:, None]) ** 2).mean()  # noqa: E731
    # outputs 0 and 1 against target 0: (1 * 0 + 0.5 * 1) / 1.5
    assert float(seg.deep_supervision(mse)(out, target)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="spatial size"):
        seg.deep_supervision(ce)([torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 2, 2)], target)


# ------------------------------------------------------------------ swapped: networks.utils.one_hot
def test_one_hot_is_the_replaced_code():
    for shape in [(2, 1, 5, 7), (1, 1, 3, 4, 5), (3, 1, 1, 1)]:
        lab = torch.randint(0, 4, shape)
        new = learned.one_hot(lab, 4)
        assert new.dtype == torch.float32
        assert torch.equal(new, F.one_hot(lab[:, 0], 4).movedim(-1, 1).float())
    lab = torch.tensor([[[[0, 2], [1, 0]]]])
    assert learned.one_hot(lab, 3)[0, :, 0, 1].tolist() == [0.0, 0.0, 1.0]


# ------------------------------------------------------------------ swapped: block_reduce
def _old_block_mean(a: np.ndarray, factor: int, axes) -> np.ndarray:
    for ax in axes:
        shape = a.shape[:ax] + (a.shape[ax] // factor, factor) + a.shape[ax + 1:]
        a = a.reshape(shape).mean(axis=ax + 1)
    return a


def test_block_mean_matches_replaced_code():
    rng = np.random.default_rng(0)
    assert superres._block_mean(np.array([[1.0, 2.0], [3.0, 4.0]]), 2, (0, 1)).tolist() == [[2.5]]
    for shape, f, axes in [((64, 64), 2, (0, 1)), ((30, 48, 36), 3, (0, 1, 2)), ((5, 32, 32), 4, (1, 2)),
                           ((12, 7), 3, (0,)), ((8, 8), 1, (0, 1))]:
        a = rng.normal(size=shape) * 1000
        new, old = superres._block_mean(a, f, axes), _old_block_mean(a, f, axes)
        assert new.shape == old.shape
        assert np.abs(new - old).max() <= 1e-12 * np.abs(a).max()      # float64 summation order only
        assert np.array_equal(new.astype(np.float32), old.astype(np.float32))   # what callers return
    img = rng.normal(size=(96, 80)).astype(np.float32)
    old = _old_block_mean(ndimage.gaussian_filter(img.astype(np.float64), 1.0, mode="reflect"), 2, (0, 1))
    assert np.array_equal(superres.blur_downsample(img, 2), old.astype(np.float32))


# ------------------------------------------------------------------ swapped: scikit-learn metrics
def _old_sens_spec_f1(t, p) -> dict[str, float]:
    t, p = np.asarray(t).astype(bool).ravel(), np.asarray(p).astype(bool).ravel()
    tp, tn = int(np.sum(t & p)), int(np.sum(~t & ~p))
    fp, fn = int(np.sum(~t & p)), int(np.sum(t & ~p))

    def ratio(a, b):
        return a / b if b else float("nan")
    return {"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp), "f1": ratio(2 * tp, 2 * tp + fp + fn)}


def test_sens_spec_f1_matches_replaced_counts():
    rng = np.random.default_rng(0)
    cases = [(rng.integers(0, 2, n), rng.integers(0, 2, n)) for n in (2, 7, 50, 333)]
    cases += [(np.zeros(5, int), np.zeros(5, int)), (np.ones(4, int), np.ones(4, int)),
              (np.ones(3, int), np.zeros(3, int)), (np.zeros(3, int), np.ones(3, int))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # zero_division=nan: no warning on empty ratios
        for t, p in cases:
            new, old = metrics.sens_spec_f1(t, p), _old_sens_spec_f1(t, p)
            for k in old:
                assert (np.isnan(new[k]) and np.isnan(old[k])) or new[k] == pytest.approx(old[k], abs=1e-15)


# ------------------------------------------------------------------ swapped: nibabel resample_from_to
def _old_resample(a, A, R, shape, order):
    m = np.linalg.inv(A) @ R
    if order == 0:
        return ndimage.affine_transform(a, m[:3, :3], m[:3, 3], output_shape=shape, order=0, cval=0)
    src = a.astype(np.float32)
    sigma = np.maximum(np.linalg.norm(m[:3, :3], axis=1) - 1, 0) / 2
    if sigma.any():
        src = ndimage.gaussian_filter(src, sigma)
    return ndimage.affine_transform(src, m[:3, :3], m[:3, 3], output_shape=shape, order=1, cval=0.0)


def test_resample_to_grid_is_bitwise_the_replaced_code():
    rng = np.random.default_rng(0)
    A = np.diag([2.0, 2.0, 2.0, 1.0])
    A[:3, 3] = [-20, -30, -10]
    R = np.array([[1.5, 0.1, 0, -15], [0, 1.5, 0, -25], [0.05, 0, 1.0, -8], [0, 0, 0, 1]])
    img = rng.normal(size=(20, 24, 18)).astype(np.float32)
    lab = rng.integers(0, 5, (20, 24, 18)).astype(np.int64)
    for a, order, src, ref in [(img, 1, A, R), (lab, 0, A, R), (img, 1, R, A), (lab, 0, R, A), (img, 0, A, A)]:
        new = atlas.resample_to_grid(a, src, ref, (30, 28, 22), order=order)
        old = _old_resample(a, src, ref, (30, 28, 22), order)
        assert new.dtype == old.dtype and np.array_equal(new, old)


# ------------------------------------------------------------------ kept: Grad-CAM teaches the method
def test_gradcam_agrees_with_monai_for_one_class():
    from monai.visualize import GradCAM

    from corelib.classification import build_net

    for attention_branch in (False, True):
        torch.manual_seed(0)
        net = build_net("resnet18", width=0.125, attention=attention_branch)
        x = torch.rand(3, 1, 28, 28)
        name = next(n for n, m in net.named_modules() if m is net.cam_layer)

        def by_max(m):
            return m / m.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)

        cam = GradCAM(net, target_layers=name, postprocessing=by_max)
        for c in (0, 1):
            ours = attention.gradcam(net, x, target=c)
            theirs = cam(x, class_idx=c)[:, 0].detach()
            assert float(ours.max()) > 0
            assert torch.allclose(ours, theirs, atol=1e-6)


# ------------------------------------------------------------------ kept: Dice, faster by hand than scikit-learn
def test_dice_per_class_kept_equals_sklearn_f1():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, (12, 14, 9))
    p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 3, t.shape))
    ours = metrics.dice_per_class(p, t, [1, 2])
    theirs = f1_score(t.ravel(), p.ravel(), labels=[1, 2], average=None, zero_division=np.nan)
    assert [ours[1], ours[2]] == pytest.approx(list(theirs), abs=1e-12)
    assert np.isnan(metrics.dice_per_class(np.zeros((3, 3), int), np.zeros((3, 3), int), [1])[1])


# ------------------------------------------------------------------ kept: the library differs
def test_pad_or_crop_kept_monai_crops_even_to_odd_one_later():
    from monai.transforms import ResizeWithPadOrCrop

    rng = np.random.default_rng(0)
    for s, t in [((5, 7), (8, 8)), ((5, 5), (2, 2)), ((4, 4), (4, 4)), ((7, 9), (3, 5))]:
        a = rng.normal(size=s).astype(np.float32)      # pads, and crops odd -> any: the same
        assert np.array_equal(reg_data.pad_or_crop(a, t), np.asarray(ResizeWithPadOrCrop(t)(a[None]))[0])
    a = np.arange(6.0)
    assert reg_data.pad_or_crop(a, (3,)).tolist() == [1.0, 2.0, 3.0]          # centre of 0..5
    assert np.asarray(ResizeWithPadOrCrop((3,))(a[None]))[0].tolist() == [2.0, 3.0, 4.0]


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence:UserWarning")
def test_gradient_smoothness_kept_monai_diffusion_uses_central_differences():
    from monai.losses import DiffusionLoss

    x = torch.arange(8.0)
    ramp = torch.stack([x[:, None].expand(8, 8), torch.zeros(8, 8)])[None]   # u = (x, 0)
    assert float(reg_losses.gradient_smoothness(ramp)) == pytest.approx(1 / 4)  # (1/2 + 0) / 2 axes
    zigzag = torch.zeros(1, 2, 8, 8)
    zigzag[0, 0, ::2] = 1.0             # alternating rows: forward differences 1, central 0
    assert float(reg_losses.gradient_smoothness(zigzag)) > 0.2
    assert float(DiffusionLoss()(zigzag)) == 0.0
