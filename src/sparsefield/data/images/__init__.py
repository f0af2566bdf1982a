"""RGB images and their fixed masks (`reads: images`)."""
