"""sparsefield: reconstruct whole images from partial observations with generative models.

Imports sit at the top of a module, but for those the workflow's start-up would pay for (torch, torchvision,
torchrtm, pidng, tifffile): the config check binds every approach's settings and reads the data sources'
signatures before any job (`snakemake -n` stays within seconds), so the families (`methods/`), the dataset
writers it names and `io.load_model` import them where they are used. The code fingerprints follow those
imports wherever they sit.
"""

__version__ = "0.1.0"
