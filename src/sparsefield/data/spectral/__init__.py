"""Multispectral images with leaf masks (`reads: spectral`)."""
