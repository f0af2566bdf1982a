"""The rehearsal's overlay: a study's paper configuration, run on a CPU with every data job on the whole rehearsal
data and every learned job reduced to a few steps and a few images.

    overlay = rehearsal_overlay(study_config)         # `--configfile config/paper/X.yaml overlay.yaml`

What the overlay changes, and nothing else (Snakemake merges a later --configfile key by key):

    device                   cpu (the paper asks for cuda; `device="cuda"` keeps it, on a lent GPU)
    learned approaches       train: `steps` updates (epochs / kimg null), evaluated once at the end on `images`
                             test images; sample: `images` test items at `sample_steps` steps, the NFE sweep
                             at one budget on one image; model, batch, crops, K and workers as in the paper
    priors                   the same, at a CPU batch (`prior_batch`: a paper batch of 256 crops of 256 px is
                             ~1.8 h an update on 2 cores); validation on `images` images, one unconditional draw
    datasets                 `paths`: where the rehearsal wrote each dataset (leaf stacks: their max_value)

`tiny=True` also shrinks every network to a few thousand parameters, for the test that runs the paper DAG on
tiny data inside CI's time.
"""

from __future__ import annotations

import copy

from sparsefield.registry import KINDS

STUDIES = {"cifar10": "config/paper/cifar10.yaml", "sid": "config/paper/sid.yaml", "leaves": "config/paper/leaves.yaml"}

TINY_BACKBONES = {  # kind family -> a backbone of a few thousand parameters
    "sparsefield.methods.field": {"n_latents": 8, "latent_dim": 16, "n_blocks": 1, "n_heads": 2, "n_fourier": 8},
    "sparsefield.methods.ddo": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "modes": 4},
    "sparsefield.methods.vae": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 4},
    "prior": {"ch": 8, "ch_mult": [1, 2], "num_blocks": 1},
}


def _learned(entry: dict, *, steps: int, images: int, sample_steps: int, tiny: bool) -> dict:
    params = copy.deepcopy(entry.get("params") or {})
    params["train"] = {**params["train"], "steps": steps, "epochs": None, "kimg": None, "checkpoint_every": steps}
    if tiny:
        params["train"].update(batch_size=4, batch_gpu=2, num_workers=0)
        params["model"] = {**params["model"], "backbone": TINY_BACKBONES[KINDS[entry["kind"]].method]}
    curve = params.get("evaluation") or {}
    params["evaluation"] = {**curve, "every": steps, "images": images}
    if "k" in curve:  # a sampled family's learning curve
        params["evaluation"].update(k=1, steps=sample_steps)
    if "sample" in params:
        params["sample"] = _sample(params["sample"], images=images, sample_steps=sample_steps, tiny=tiny)
    return params


def _sample(sample: dict, *, images: int, sample_steps: int, tiny: bool) -> dict:
    sample = {**sample, "steps": sample_steps, "images": images, "sweep_nfe": [sample_steps] if sample.get(
        "sweep_nfe", [1]) else [], "sweep_images": 1}
    if tiny:
        sample.update(n_samples=min(2, sample.get("n_samples", 1)), batch_size=4)
        if "n_samples_2x" in sample:
            sample["n_samples_2x"] = 1
    return sample


def rehearsal_overlay(config: dict, *, paths: dict[str, dict] | None = None, steps: int = 2, images: int = 2,
                      sample_steps: int = 2, prior_batch: dict[str, tuple[int, int]] | None = None,
                      tiny: bool = False, device: str = "cpu") -> dict:
    """The overlay of a study's paper `config` (module docstring).

    Args:
        paths: {dataset or raw set: keys to set} where the rehearsal wrote its data (e.g. {"leaves": {"path": ...,
            "max_value": 32767}}), merged into `datasets:` or `rawsets:`.
        steps, images, sample_steps: updates of every training, test items sampled, steps of every sampler.
        prior_batch: {prior: (batch_size, batch_gpu)} on this CPU (default: the paper's).
        tiny: tiny networks and batches too (the CI test of the paper DAG).
        device: the device of the learned jobs (cuda: the rehearsal's learned jobs on a lent GPU).
    """
    overlay: dict = {"device": device, "approaches": {}, "priors": {}}
    for name, entry in config["approaches"].items():
        row = KINDS[entry["kind"]]
        if row.learned:
            overlay["approaches"][name] = {"params": _learned(entry, steps=steps, images=images,
                                                              sample_steps=sample_steps, tiny=tiny)}
        elif row.posterior:
            sample = (entry.get("params") or {}).get("sample") or {}
            sample = _sample(sample, images=images, sample_steps=sample_steps, tiny=tiny)
            overlay["approaches"][name] = {"params": {**(entry.get("params") or {}), "sample": sample}}
    for name, entry in (config.get("priors") or {}).items():
        params = copy.deepcopy(entry["params"])
        batch = (prior_batch or {}).get(name)
        params["train"] = {**params["train"], "steps": steps, "epochs": None, "kimg": None, "checkpoint_every": steps}
        if batch is not None:
            params["train"].update(batch_size=batch[0], batch_gpu=batch[1])
        params["validation"] = {**params.get("validation", {}), "every": steps, "images": images, "draws": 1,
                                "draw_steps": sample_steps}
        if tiny:
            params["train"].update(batch_size=4, batch_gpu=2, num_workers=0)
            params["backbone"] = TINY_BACKBONES["prior"]
            if "crop" in params:
                params.update(crop=32, stride=16)
        overlay["priors"][name] = {"params": params}
    for key in ("datasets", "rawsets"):
        found = {name: values for name, values in (paths or {}).items() if name in (config.get(key) or {})}
        if found:
            overlay[key] = found
    return overlay
