"""Raw captures, their demosaiced tiles and noise calibration (`reads: tiles`)."""
