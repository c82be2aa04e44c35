"""Values, not only shapes, for the registration chapter's plumbing (experiment, plots, baseline)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from corelib.registration.classical import affine_then_demons, warp  # noqa: E402
from corelib.registration.experiment import evaluate_fields, predict_fields, registration_loss  # noqa: E402
from corelib.registration.learned import RegNet  # noqa: E402
from corelib.registration.losses import gradient_smoothness, mse  # noqa: E402
from corelib.registration.plots import deformation_grid, jacobian_map  # noqa: E402


def blob(shape=(32, 32), center=(16, 16), radius=7.0):
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    return ((rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius ** 2).astype(np.float32)


@pytest.fixture
def net():
    torch.manual_seed(0)
    return RegNet(2, channels=(4, 8))


def pair():
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 1, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)


def test_registration_loss_is_similarity_plus_weighted_smoothness(net):
    moving, fixed = pair()
    warped, u = net(moving, fixed)
    expected = mse(warped, fixed) + 0.5 * gradient_smoothness(u)
    got = registration_loss(net, moving, fixed, similarity="mse", smooth=0.5)
    assert torch.allclose(got, expected, atol=1e-6)


def test_registration_loss_terms_add_and_dice_needs_labels(net):
    moving, fixed = pair()
    labels = (moving > 0.5).long(), (fixed > 0.5).long()
    base = registration_loss(net, moving, fixed)
    with_dice = registration_loss(net, moving, fixed, *labels, dice=1.0, num_classes=2)
    assert with_dice > base  # a Dice loss of unaligned random labels is well above zero
    base_mse = registration_loss(net, moving, fixed, similarity="mse")
    swapped = registration_loss(net, fixed, moving, similarity="mse")
    both = registration_loss(net, moving, fixed, similarity="mse", inverse=1.0)
    assert both >= base_mse + swapped - 1e-6  # both directions plus a non-negative consistency term
    with pytest.raises(ValueError, match="moving_labels"):
        registration_loss(net, moving, fixed, dice=1.0)


def test_predict_fields_matches_one_forward_pass_per_pair(net):
    images = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 0], [1, 2]])
    fields, seconds = predict_fields(net, images, pairs, batch=2)
    assert fields.shape == (3, 2, 16, 16) and seconds > 0
    x = torch.from_numpy(images)[:, None]
    with torch.no_grad():
        for k, (m, f) in enumerate(pairs):
            one = net.field(x[m:m + 1], x[f:f + 1])[0].numpy()
            np.testing.assert_allclose(fields[k], one, atol=1e-5)


def test_evaluate_fields_scores_identity_and_a_known_shift():
    labels = np.stack([blob() * 1 + blob(radius=3) * 1, blob(center=(16, 19)) + blob((32, 32), (16, 19), 3)])
    labels = labels.astype(np.int64)  # structure 1 ring-ish disc, structure 2 its core
    zero = np.zeros((2, 32, 32), np.float32)
    same = evaluate_fields([zero], labels, np.array([[0, 0]]))
    assert same["Dice mean"] == pytest.approx(1.0) and same["HD95 (px)"] == 0 and same["folding (%)"] == 0
    shifted = evaluate_fields([zero], labels, np.array([[0, 1]]))
    assert shifted["Dice mean"] < 0.9
    undo = np.stack([np.zeros((32, 32)), np.full((32, 32), -3.0)]).astype(np.float32)  # look 3 px left
    fixed_up = evaluate_fields([undo], labels, np.array([[0, 1]]))
    assert fixed_up["Dice mean"] == pytest.approx(1.0)


def test_affine_then_demons_recovers_a_shift_and_a_bulge():
    fixed = blob(radius=8)
    moving = blob(center=(18, 14), radius=7)
    res = affine_then_demons(fixed, moving, levels=(2, 1), iterations=(40, 20))
    before = np.abs(moving - fixed).mean()
    after = np.abs(warp(moving, res.displacement) - fixed).mean()
    assert after < 0.3 * before and res.seconds > 0 and res.transform is not None


def test_plots_draw_the_field_they_are_given():
    fig, (a, b) = plt.subplots(1, 2)
    shift = np.stack([np.full((8, 8), 1.0), np.zeros((8, 8))])
    deformation_grid(a, shift, step=4)
    first_row = a.lines[0].get_ydata()
    assert np.allclose(first_row, 1.0)  # row 0 moved down by one pixel
    im = jacobian_map(b, np.zeros((2, 8, 8)))
    assert np.allclose(im.get_array(), 1.0) and "folded: 0.00%" in b.get_title()
    with pytest.raises(ValueError, match="2D field"):
        deformation_grid(a, np.zeros((3, 8, 8, 8)))
    plt.close(fig)
