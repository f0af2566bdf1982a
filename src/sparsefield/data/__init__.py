"""The data of each modality: writers of the dataset files, their readers, and the formats approaches read.

    images/    RGB images and fixed masks: sources (builtin, CIFAR-10, image folders), masks, what an approach
               reads (sets, estimates) and its two batch layouts (fields: pixel sets; grids: the dense grid)
    raw/       raw captures: SID's layout, DNG writing, the builtin raw set, demosaicing to tiles, tiles, noise
               calibration
    spectral/  multispectral images with leaf masks: the builtin leaves, folders of TIFF stacks, the reader
"""
