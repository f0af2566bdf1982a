"""Classical estimates: interpolation and inpainting of sparse pixels, normalised convolution, low-light restoration."""
