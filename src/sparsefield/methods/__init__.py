"""One wiring module per family (a package, `field/` and `ddo/`, where it has its own batching): a typed Params
dataclass, then the functions the stages call, each a few lines calling the math modules. No math here, and no
file I/O: the stages (`sparsefield.stages`) read and write every file and hand a family data and models
(tests/test_layers.py checks it).

    reconstruct(kind, params, data, *, model, device, threads) -> samples.Reconstruction   every family
    fit(kind, params, train) -> model          a classical family fitted on the train split (pca)
    rebuild(config) -> nn.Module                a learned family's network, as a model.pt's config describes it
    training(kind, params, train, test, device) -> the training loop's keyword arguments (learned)
    sweep(kind, params, data, *, model, device) -> rows of PSNR against NFE (sampled families)

The registry (`sparsefield.registry`) names which module serves a kind. Imports of torch-heavy
modules sit inside the functions, so that binding the config to the Params (at workflow start,
`sparsefield.config`) costs no torch import.
"""
