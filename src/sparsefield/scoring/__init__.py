"""Scorers: one module per kind of data an approach reads, each with `score(samples, data) -> DataFrame`.

`masks` scores reconstructions of images on their fixed masks' regions, `tiles` low-light
restorations against the long exposures. Both write the long `metrics.csv` format of COLUMNS, one
row per (approach, dataset, scheme, metric, region, estimator, value); costs that belong to the
whole approach (seconds_per_image, nfe, params, ...) have region and estimator "-".
"""

COLUMNS = ["approach", "dataset", "scheme", "metric", "region", "estimator", "value"]
