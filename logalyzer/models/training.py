"""Spark → petastorm → torch: the training loop both detectors share.

Spark builds the training rows (fixed-shape arrays), petastorm materialises them once as Parquet
(``make_spark_converter``) and streams them to torch in batches (``make_torch_dataloader``), so the
trainer never ``collect()``s the training set. On the CPU a run is deterministic: the rows are
written in a fixed order, read by one petastorm worker without row-group shuffling, and shuffled in
a buffer driven by torch's seeded generator.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from typing import Callable

log = logging.getLogger(__name__)
SHUFFLE_BUFFER = 50_000


def quiet_petastorm() -> None:
    """petastorm 0.12 uses pyarrow APIs that pyarrow 14 marks deprecated: dozens of FutureWarnings per
    reader, and a non-writable-array note from torch; none of them is actionable for a user."""
    import warnings

    for module in ("petastorm", "pyarrow"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    warnings.filterwarnings("ignore", message=".*pyarrow.*deprecated", category=FutureWarning)
    for noisy in ("petastorm", "petastorm.spark.spark_dataset_converter", "petastorm.fs_utils"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def pick_device(name: str):
    """``auto``: a CUDA GPU when torch sees one, else the CPU."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("models.device is 'cuda' but torch sees no CUDA GPU (use auto or cpu)")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int, threads: int = 0) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(int(threads))


@contextlib.contextmanager
def petastorm_rows(df, cache_dir: str):
    """``df`` materialised for petastorm under ``cache_dir``; the files are removed afterwards."""
    from petastorm.spark import SparkDatasetConverter, make_spark_converter

    spark = df.sparkSession
    if cache_dir.startswith("file://"):
        os.makedirs(cache_dir[len("file://"):], exist_ok=True)
    spark.conf.set(SparkDatasetConverter.PARENT_CACHE_DIR_URL_CONF, cache_dir)
    quiet_petastorm()
    converter = make_spark_converter(df)
    try:
        yield converter
    finally:
        with contextlib.suppress(Exception):
            converter.delete()


def batches(converter, batch_size: int, shuffle: bool, epochs: int = 1):
    """``epochs`` passes over the converter's rows as dicts of torch tensors (a context manager).

    One reader for every epoch: opening a petastorm reader costs about a second, which on small
    training sets was most of an epoch.
    """
    from petastorm.pytorch import BatchedDataLoader

    return converter.make_torch_dataloader(
        batch_size=batch_size, num_epochs=epochs, workers_count=1, data_loader_fn=BatchedDataLoader,
        shuffling_queue_capacity=min(SHUFFLE_BUFFER, max(len(converter), 1)) if shuffle else 0,
        shuffle_row_groups=False)


def _take(iterator, n: int):
    for _ in range(n):
        try:
            yield next(iterator)
        except StopIteration:
            return


def epochs_for(rows: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """``epochs``, raised until training takes at least ``min_steps`` optimiser steps.

    De-duplicated training rows can be few (a regular log has a few thousand distinct windows): an
    epoch is then a handful of steps, and a fixed epoch count would leave the model untrained.
    """
    per_epoch = max(rows / max(batch_size, 1), 1e-9)
    return max(int(epochs), math.ceil(min_steps / per_epoch)) if rows else int(epochs)


def fit(model, train, val, *, epochs: int, batch_size: int, learning_rate: float, loss: Callable, device,
        seed: int, progress: Callable = print, name: str = "model",
        on_epoch: Callable | None = None) -> list[dict]:
    """Train ``model`` for ``epochs`` on the ``train`` converter; returns per-epoch losses.

    ``loss(model, batch, device)`` returns (summed loss, summed weight) of a batch; the reported
    epoch losses are weighted means over the epoch's batches (train) and over ``val`` (no gradient).
    An epoch is ``rows / batch_size`` batches (rounded) of one continuous, shuffled stream.
    """
    import torch

    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = []
    # one continuous stream of epochs * rows: epoch e ends at batch ceil(e * rows / batch_size)
    def steps(rows: int, epoch: int, size: int = batch_size) -> int:
        return math.ceil(epoch * rows / size) - math.ceil((epoch - 1) * rows / size)

    n_train, n_val = len(train), (len(val) if val is not None else 0)
    # a validation set smaller than a batch is one batch per epoch, so every epoch has a validation loss
    val_batch = max(1, min(batch_size, n_val))
    torch.manual_seed(seed)              # drives the shuffling buffer: the same order every run
    with contextlib.ExitStack() as stack:
        train_iter = iter(stack.enter_context(batches(train, batch_size, shuffle=True, epochs=epochs)))
        val_iter = (iter(stack.enter_context(batches(val, val_batch, shuffle=False, epochs=epochs)))
                    if n_val else None)
        for epoch in range(1, epochs + 1):
            started = time.time()
            model.train()
            total = weight = 0.0
            for batch in _take(train_iter, steps(n_train, epoch)):
                s, w = loss(model, batch, device)
                optimiser.zero_grad()
                (s / max(w, 1e-12)).backward()
                optimiser.step()
                total += float(s.detach())
                weight += w
            train_loss = total / max(weight, 1e-12)
            val_loss = _evaluate(model, _take(val_iter, steps(n_val, epoch, val_batch)), loss, device) if val_iter else math.nan
            row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": time.time() - started}
            history.append(row)
            if on_epoch:
                on_epoch(row)
            if epoch in (1, epochs) or epoch % max(1, epochs // 10) == 0:   # about ten progress lines
                progress(f"{name}: epoch {epoch}/{epochs} train loss {train_loss:.4f}, validation loss "
                         f"{val_loss:.4f} ({row['seconds']:.1f} s)")
    return history


def _evaluate(model, batch_iter, loss: Callable, device) -> float:
    import torch

    model.eval()
    total = weight = 0.0
    with torch.no_grad():
        for batch in batch_iter:
            s, w = loss(model, batch, device)
            total += float(s)
            weight += w
    return total / weight if weight else math.nan
