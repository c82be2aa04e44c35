"""Value checks where earlier tests only looked at shapes (issue: tests where the work is)."""
import numpy as np
import torch

import corelib.segmentation as seg
from corelib.classification import RotationStream, probe_difficulty


def test_predict_2d_equals_one_forward_pass_per_slice():
    torch.manual_seed(0)
    net = seg.unet(2, 1, 3, channels=(4, 8)).eval()
    vol = np.random.default_rng(0).normal(size=(4, 8, 8)).astype(np.float32)
    probs = seg.predict_2d(net, vol, axis=0, batch=3)
    with torch.no_grad():
        for i in range(4):
            one = torch.softmax(net(torch.from_numpy(vol[i])[None, None]), 1)[0]
            torch.testing.assert_close(probs[:, i], one, atol=1e-5, rtol=1e-4)


def test_probe_difficulty_ranks_mislabelled_samples_hardest():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    f = rng.normal(scale=0.5, size=(60, 2)) + 3 * y[:, None]
    f[:3] = f[30:33] + 0.0  # three class-0 samples that sit in class 1's cloud
    d = probe_difficulty(f, y)
    assert set(np.argsort(d)[-3:]) == {0, 1, 2}


def test_rotation_stream_labels_are_the_quarter_turns_applied():
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(5, 1, 6, 6, generator=g)
    xb, k = next(iter(RotationStream(imgs, batch_size=16, steps=1, seed=2)))
    for x, r in zip(xb, k):
        back = torch.rot90(x, -int(r), dims=(-2, -1))
        assert any(torch.equal(back, im) for im in imgs)
        others = [q for q in range(4) if q != int(r)]
        assert not any(torch.equal(torch.rot90(x, -q, dims=(-2, -1)), im) for q in others for im in imgs)
