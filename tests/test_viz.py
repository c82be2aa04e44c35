import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from corelib import viz  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    """Axes that show an image (colour bars excluded)."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def rng_image(shape=(24, 32), seed=0):
    return np.random.default_rng(seed).random(shape)


def test_ct_window_and_presets():
    assert viz.ct_window(40, 80) == (0, 80)
    assert viz.ct_window("lung") == (-1350, 150)
    assert {"brain", "bone", "soft", "lung"} <= set(viz.CT_WINDOWS)
    assert viz.ct_window("soft") == (-160, 240)
    with pytest.raises(ValueError, match="unknown CT window"):
        viz.ct_window("liver")
    with pytest.raises(ValueError, match="positive"):
        viz.ct_window(0, -1)


def test_show_grid_shares_one_window_and_colorbar():
    a = rng_image()
    b = torch.from_numpy(3 * rng_image(seed=1)[None, None])  # torch, with batch/channel dims
    fig = viz.show_grid([a, b, a], titles=["a", "b", "c"], ncols=2)
    assert isinstance(fig, Figure)
    axes = image_axes(fig)
    assert len(axes) == 3 and len(colorbars(fig)) == 1
    clims = {ax.images[0].get_clim() for ax in axes}
    assert clims == {tuple(np.percentile(a, [1, 99]))}  # from the first image
    assert all(not ax.axison for ax in axes)


def test_show_grid_window_preset_dict_and_errors():
    fig = viz.show_grid({"x": rng_image(), "y": rng_image()}, window="brain", colorbar=False)
    assert {ax.images[0].get_clim() for ax in image_axes(fig)} == {(0.0, 80.0)}
    assert [ax.get_title() for ax in image_axes(fig)] == ["x", "y"]
    assert not colorbars(fig)
    with pytest.raises(ValueError, match="2D"):
        viz.show_grid([np.zeros((4, 5, 6))])
    with pytest.raises(ValueError, match="2D"):
        viz.show_grid(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="titles"):
        viz.show_grid([rng_image()], titles=["a", "b"])
    with pytest.raises(ValueError, match="hi > lo"):
        viz.show_grid([rng_image()], window=(1, 0))


def test_overlay_labels_legend_names():
    img = rng_image()
    labels = np.zeros(img.shape, int)
    labels[2:6, 2:6], labels[10:14, 10:14] = 1, 3
    fig = viz.overlay_labels(img, labels, label_names={1: "liver", 3: "tumour"})
    ax = fig.axes[0]
    assert len(ax.images) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["liver", "tumour"]
    with pytest.raises(ValueError, match="same shape"):
        viz.overlay_labels(img, labels[:-1])


def test_overlay_colour_depends_on_the_label_value_only():
    """Label 3 has one colour whether or not labels 1 and 2 are in the slice too."""
    img = rng_image()
    both, alone = np.zeros(img.shape, int), np.zeros(img.shape, int)
    both[2:6, 2:6], both[8:10, 8:10], both[10:14, 10:14] = 1, 2, 3
    alone[10:14, 10:14] = 3

    def legend_colours(labels):
        ax = viz.overlay_labels(img, labels, label_names=["bg", "a", "b", "c"]).axes[0]
        return {t.get_text(): tuple(h.get_facecolor()[:3]) for t, h in
                zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}

    assert legend_colours(both)["c"] == legend_colours(alone)["c"] == viz.label_color(3)[:3]
    assert viz.label_color(1) != viz.label_color(2)


def test_compare_with_errors_layout_and_scales(tmp_path):
    ref = rng_image((40, 40))
    tests = {"noisy": ref + 0.2 * rng_image((40, 40), 3), "good": ref + 0.01}
    fig = viz.compare_with_errors(ref, tests, window=(0, 1))
    axes = image_axes(fig)
    assert len(axes) == 3 + 2  # one image row (ref + 2) and two error maps
    image_clims = {ax.images[0].get_clim() for ax in axes[:3]}
    error_clims = {ax.images[0].get_clim() for ax in axes[3:]}
    assert image_clims == {(0.0, 1.0)}
    assert len(error_clims) == 1
    lo, hi = error_clims.pop()
    assert lo == -hi > -1  # one shared symmetric scale
    assert len(colorbars(fig)) == 2

    zoomed = viz.compare_with_errors(ref, tests, window=(0, 1), zoom=(5, 20, 10, 30))
    axes = image_axes(zoomed)
    assert len(axes) == 3 + 3 + 2
    assert axes[3].images[0].get_array().shape == (15, 20)
    zoomed.savefig(tmp_path / "compare.png")


def test_compare_with_errors_rejects_bad_inputs():
    ref = rng_image((16, 16))
    with pytest.raises(ValueError, match="shape"):
        viz.compare_with_errors(ref, {"a": rng_image((16, 15))})
    with pytest.raises(ValueError, match="at least one"):
        viz.compare_with_errors(ref, {})
    with pytest.raises(ValueError, match="zoom"):
        viz.compare_with_errors(ref, {"a": ref}, zoom=(0, 40, 0, 4))


class FakeHistory:
    train_loss = list(np.exp(-np.arange(50) / 10) + 0.01)
    steps = list(range(1, 51))
    val = [{"step": 10, "loss": 0.4, "dice": 0.5}, {"step": 50, "loss": 0.1, "dice": 0.8}]


def test_plot_history_object_and_dict():
    fig = viz.plot_history(FakeHistory())
    assert len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_xlabel() == "step" and fig.axes[1].get_ylabel() == "validation metric"
    as_dict = {"train_loss": FakeHistory.train_loss, "steps": FakeHistory.steps, "val": []}
    fig = viz.plot_history(as_dict, logy=False)
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "linear"
    # corelib.train.History.to_dict(): ``steps`` is the total count
    history = {"train_loss": [1.0, 0.5, 0.4], "steps": 3, "val": [{"step": 3, "dice": 0.7}], "best": {}, "seconds": 1.0}
    fig = viz.plot_history(history)
    assert len(fig.axes) == 2
    _, ax = plt.subplots()
    assert viz.plot_history(FakeHistory(), ax=ax) is ax.figure
    with pytest.raises(ValueError, match="no train_loss"):
        viz.plot_history({"train_loss": [], "steps": [], "val": []})


def test_three_plane_aspect_from_spacing():
    vol = np.random.default_rng(0).random((20, 24, 10))
    labels = (vol > 0.9).astype(int)
    fig = viz.three_plane(vol, spacing=(1.0, 1.0, 2.5), labels=labels)
    axes = image_axes(fig)
    assert len(axes) == 3 and len(colorbars(fig)) == 1
    axial, coronal, sagittal = axes
    assert axial.get_aspect() == 1.0 and coronal.get_aspect() == 2.5 and sagittal.get_aspect() == 2.5
    assert axial.images[0].get_array().shape == (24, 20)  # j vertical, i horizontal
    assert len({ax.images[0].get_clim() for ax in axes}) == 1
    with pytest.raises(ValueError, match="outside"):
        viz.three_plane(vol, index=(0, 0, 10))
    with pytest.raises(ValueError, match="3D"):
        viz.three_plane(vol[0])


def test_montage_and_slice_scroller_with_widgets():
    vol = torch.rand(1, 12, 14, 16)
    fig = viz.montage(vol, n=5, axis=1)
    assert len(image_axes(fig)) == 5
    static, widget = viz.slice_scroller(vol, axis=2, spacing=(1, 1, 2), n=4)
    assert isinstance(static, Figure) and len(image_axes(static)) == 4
    pytest.importorskip("ipywidgets")
    slider = widget.children[0]
    assert slider.max == 15 and slider.value == 8
    slider.value = 3  # redraw runs without error


def test_slice_scroller_without_ipywidgets(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import now fails
    static, widget = viz.slice_scroller(np.random.default_rng(0).random((8, 8, 8)))
    assert isinstance(static, Figure) and len(image_axes(static)) == 8
    assert widget is None
    assert "ipywidgets" in capsys.readouterr().out


def test_pipeline_figure(tmp_path):
    steps = ["acquisition", "preprocessing", "analysis"]
    fig = viz.pipeline_figure(steps, notes=["CT, MRI", ["restoration", "registration"], None],
                              highlight="analysis", title="pipeline")
    assert len(fig.axes) == 1
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert all(s in texts for s in steps)
    assert len(fig.axes[0].patches) == 3
    fig.savefig(tmp_path / "pipeline.png")
    with pytest.raises(ValueError, match="notes"):
        viz.pipeline_figure(steps, notes=["x"])
    with pytest.raises(ValueError, match="at least one"):
        viz.pipeline_figure([])


def test_plot_histories_grid_at_most_three_columns():
    hist = {"train_loss": [1.0, 0.5, 0.25], "steps": 3, "val": [{"step": 3, "psnr": 30.0}]}
    fig = viz.plot_histories({f"run {i}": hist for i in range(5)})
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title().startswith("run")]
    assert len(visible) == 5
    assert fig.get_size_inches()[0] <= 4.2 * 3 + 1e-6
    with pytest.raises(ValueError, match="ncols"):
        viz.plot_histories({"a": hist}, ncols=4)
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_histories({})


def test_show_source_returns_the_code():
    code = viz.show_source(viz.plot_histories)
    assert "def plot_histories" in code.data
    with pytest.raises(TypeError, match="no source"):
        viz.show_source(3)


def test_one_table_of_ct_windows():
    import corelib.data as data

    assert data.CT_WINDOWS is viz.CT_WINDOWS
