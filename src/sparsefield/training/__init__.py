"""One training loop for every learned approach (`training.loop.training_loop`; the train stage calls it).

AdamW (Loshchilov & Hutter 2019) with linear warm-up then cosine decay
(Loshchilov & Hutter 2017, SGDR eq. 5 without restarts), gradient-norm clipping,
an exponential moving average of the weights, bf16 autocast on CUDA only.

Modules: `schedule` (learning rate, EMA decay, batch order, micro-batches, the training length),
`state` (model, EMA, optimizer, checkpoint), `loop` (the loop), `log` (train_log.csv).

Steps are counted from 1: update n uses batch `batch_indices(..., step=n)`, the
noise `SampleNoise([seed_of(seed, n, i) for i in batch])` and the rate
`lr_at(n, ...)`; a row `step = n` of train_log.csv and a checkpoint at step n
describe the model after n updates. Everything drawn is a pure function of
(seed, step, example), so a run killed after a checkpoint and resumed ends with
exactly the weights of an uninterrupted one (on the same device).

The loss a family returns is per element, with its supervision masks (`objectives.masked`):
the loop minimises the one masked reduction and logs it per mask (loss_query, loss_full).

Micro-batches (`batch_gpu`, NVlabs/edm's name): update n's batch is cut into passes of at most
`batch_gpu` examples, each pass's loss weighted by its share of the batch, b_i / B, and their
gradients summed before the one optimizer step. The per-example noise streams do not depend on the
cut, so the update is the full batch's (to float rounding) whenever every example is supervised
somewhere; a family whose masks may be empty (an image without a leaf pixel) averages the passes'
means by their shares instead of leaving the empty examples out of one mean. The batch order, the
noise and the checkpoint never depend on `batch_gpu`: it can change between a run and its resume.
"""
