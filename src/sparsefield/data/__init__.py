"""Dataset stages: images, fixed masks (and raw captures in a later stage)."""
