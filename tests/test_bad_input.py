"""Bad input a new user tried: each gets one line naming the file or key and the fix, and nothing half-written.

The cases that need the DAG (duplicate config keys, missing data paths, a data job's reason on the console) are
in tests/workflow/test_workflow.py.
"""

import h5py
import numpy as np
import pandas as pd
import pytest

from sparsefield.config import ConfigError, validate_config
from sparsefield.data.spectral.sources import folder_images
from sparsefield.samples import write_samples
from sparsefield.stages.compare import compare

# ---- 13: figures.images beyond the scored images


def test_figure_index_beyond_the_scored_images_is_refused_at_config_time(config, schema):
    config["figures"] = {"images": [0, 64]}  # evaluation.n_images: 64 scores test images 0..63
    with pytest.raises(ConfigError, match=r"^config key figures\.images: .*64.*0\.\.63"):
        validate_config(config, schema)


def test_figure_index_beyond_the_test_split_is_refused_at_config_time(config, schema):
    config["figures"] = {"images": [300]}  # the leaves dataset (all of it scored) has n_test 256
    config["evaluation"]["n_images"] = None
    with pytest.raises(ConfigError, match=r"^config key figures\.images: .*300.*datasets\.leaves"):
        validate_config(config, schema)


def toy_run(root, n=8, size=8):
    """A toy dataset (also its masks file) and one approach's samples.h5 and metrics.csv on its n test images."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    order = np.argsort(rng.uniform(size=(n, size * size)), axis=1)
    with h5py.File(root / "data.h5", "w") as f:
        f.create_dataset("train/images", data=images)
        f.create_dataset("test/images", data=images)
        f["test"].create_dataset("context", data=order[:, :16])
        f["test"].create_dataset("query", data=order[:, 16:24])
    (root / "linear").mkdir()
    samples = (images / 255.0)[:, None]
    write_samples(root / "linear/samples.h5", samples, np.arange(n), approach="linear", kind="linear",
                  dataset="toy", scheme="s", nfe=0, seconds_per_image=0.01)
    rows = [("psnr", "missing", "mean", 30.0), ("nfe", "-", "-", 0), ("n_images", "-", "-", n)]
    pd.DataFrame([dict(approach="linear", dataset="toy", scheme="s", metric=m, region=r, estimator=e, value=v)
                  for m, r, e, v in rows]).to_csv(root / "linear/metrics.csv", index=False)
    return root / "linear", root / "data.h5"


def run_compare(root, **kwargs):
    approach, data = toy_run(root)
    out = root / "out"
    runs = {"images": {"linear": {"metrics": approach / "metrics.csv", "samples": approach / "samples.h5",
                                  "files": {"data": data, "masks": data}}}}
    compare(runs, out / "comparison.csv", out / "comparison.md", out / "figures", out_sweep=out / "nfe_sweep.csv",
            n_boot=10, **kwargs)
    return out


def test_figure_job_fails_loudly_when_no_figure_index_was_scored(tmp_path):
    """Known only when the job runs (an imagefolder's test size): the figure job names the key and the range."""
    with pytest.raises(ValueError, match=r"figures\.images: .*\[8, 9\].*toy · s.*0\.\.7"):
        run_compare(tmp_path, images=(8, 9))
    assert not (tmp_path / "out/comparison.md").exists()  # nothing left looking complete


def test_figure_index_dropped_beside_shown_ones_is_logged(tmp_path, capsys):
    out = run_compare(tmp_path, images=(0, 20))
    assert (out / "figures/toy_s.png").exists()
    assert "figures.images: test image 20 is not shown for toy · s" in capsys.readouterr().err


def test_without_figures_images_a_small_evaluation_shows_what_it_scored(config, schema, tmp_path, capsys):
    """figures.images null (the default) is the first six scored images: evaluation.n_images 2 is no error."""
    del config["figures"]
    config["evaluation"]["n_images"] = 2
    validate_config(config, schema)
    assert config["figures"]["images"] is None
    out = run_compare(tmp_path)  # images=None: the toy run's 8 test images, the first six shown
    assert (out / "figures/toy_s.png").exists() and "figures.images" not in capsys.readouterr().err


# ---- 14: n_test / n_train null where the source cannot take it


@pytest.mark.parametrize(("dataset", "key"), [("builtin", "n_test"), ("builtin", "n_train"), ("leaves", "n_test")])
def test_null_split_size_on_a_generated_source_is_refused(config, schema, dataset, key):
    config["datasets"][dataset][key] = None
    with pytest.raises(ConfigError, match=rf"^config key datasets\.{dataset}\.{key}: null, .*give a number"):
        validate_config(config, schema)


def test_null_n_test_of_imagefolder_patches_is_refused_and_of_resize_accepted(config, schema):
    config["datasets"]["photos"] = {"source": "imagefolder", "path": "photos", "n_train": 10, "n_test": None}
    with pytest.raises(ConfigError, match=r"^config key datasets\.photos\.n_test: null, .*mode: resize"):
        validate_config(config, schema)
    config["datasets"]["photos"]["mode"] = "resize"
    validate_config(config, schema)


def test_null_n_test_on_cifar10_stays_valid(config, schema):
    config["datasets"]["cifar"] = {"source": "cifar10", "path": "data/cifar10", "n_train": None, "n_test": None}
    config["evaluation"]["n_images"] = 64
    validate_config(config, schema)


# ---- 15: evaluation.n_images beyond the test split


def test_n_images_beyond_a_known_test_split_is_refused(config, schema):
    config["evaluation"]["n_images"] = 10000  # the builtin dataset has n_test 500
    with pytest.raises(ConfigError, match=r"^config key evaluation\.n_images: 10000, .*datasets\.builtin\.n_test.*500"):
        validate_config(config, schema)


def test_n_images_beyond_cifar10s_whole_test_split_is_refused(config, schema):
    config["datasets"]["cifar"] = {"source": "cifar10", "path": "data/cifar10", "n_train": 100}  # n_test: all 10000
    config["approaches"] = {"linear_cifar": {"kind": "linear", "dataset": "cifar", "scheme": "cq_10_10"}}
    config["evaluation"]["n_images"] = 20000
    with pytest.raises(ConfigError, match=r"^config key evaluation\.n_images: 20000, .* of cifar is 10000"):
        validate_config(config, schema)


def test_n_images_is_not_checked_against_a_dataset_no_approach_scores(config, schema):
    config["datasets"]["small"] = {"source": "builtin", "n_train": 10, "n_test": 5}
    validate_config(config, schema)


def test_n_images_capped_at_run_time_is_recorded(tmp_path, capsys):
    """Unknown from config (an imagefolder in mode resize): the log warns and comparison.md says what was scored."""
    out = run_compare(tmp_path, images=(0,), n_images=10)
    markdown = (out / "comparison.md").read_text()
    assert "## toy · s (8 test images: the whole test split; evaluation.n_images asked for 10)" in markdown
    assert "evaluation.n_images is 10, but the test split of toy holds 8 images: 8 scored" in capsys.readouterr().err


# ---- 16: a scheme with nothing to reconstruct


@pytest.mark.parametrize("query_ratio", [0.0, 0.5])
def test_context_ratio_one_is_refused(config, schema, query_ratio):
    config["schemes"]["all_seen"] = {"context_ratio": 1, "query_ratio": query_ratio}
    with pytest.raises(ConfigError, match=r"^config key schemes\.all_seen\.context_ratio: 1 .*no pixel"):
        validate_config(config, schema)


# ---- 18: NaN in a multispectral stack


def test_nan_pixels_in_a_multispectral_stack_get_their_own_message(tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    for name in ("plot0", "plot1"):
        stack = rng.uniform(0, 1, (5, 16, 16)).astype(np.float32)
        if name == "plot1":
            stack[:, 2, 3] = np.nan  # one pixel, every band
            stack[1, 4, 4] = np.nan  # one band of another
        tifffile.imwrite(tmp_path / f"{name}.tif", stack, photometric="minisblack", planarconfig="separate")
        tifffile.imwrite(tmp_path / f"{name}_mask.tif", np.ones((16, 16), np.uint8), photometric="minisblack")
    with pytest.raises(ValueError) as err:
        folder_images(tmp_path, bands=list("abcde"), size=8)
    message = str(err.value)
    assert "plot1.tif" in message and "2 pixels" in message and "NaN" in message
    assert "max_value" not in message and "\n" not in message


# ---- 20: a failed job's reason, read from its log for the console (the Snakefile's onerror)


def test_log_reason_is_the_exception_line_of_the_last_traceback(tmp_path):
    from sparsefield.errors import log_reason

    log = tmp_path / "job.log"
    assert log_reason(log) is None  # no log
    log.write_text("step 1\nstep 2\n")
    assert log_reason(log) is None  # no traceback: nothing to say
    frames = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n    f()\n    ^^^\n'
    log.write_text(f"{frames}KeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\n"
                   f"{frames}sparsefield.config.ConfigError: config key x: bad; fix it\n")
    assert log_reason(log) == "config key x: bad; fix it"  # the package's own error: the message alone
    log.write_text(f"{frames}TypeError: '<' not supported between instances of 'NoneType' and 'int'\n")
    assert log_reason(log) == "TypeError: '<' not supported between instances of 'NoneType' and 'int'"  # a bug
