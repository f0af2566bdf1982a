"""sparsefield: reconstruct whole images from partial observations with generative models."""

__version__ = "0.1.0"
