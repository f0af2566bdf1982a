"""One wiring file per family: a typed Params dataclass, then reconstruct (and build, batches, loss, load
when learned), each a few lines calling the math modules. No math here, and no file I/O: the stages
(`sparsefield.stages`) read and write every file. The registry names which module serves a kind.

Imports of torch-heavy modules sit inside the functions, so that binding the config to the Params
(at workflow start, `sparsefield.config`) costs no torch import.
"""
