"""Fine-tune the top layers of MiniLM on the tickets with a softmax head (PyTorch, CPU).

Why only the top layers: on 2 CPU cores a full fine-tune costs minutes per epoch. The frozen lower layers
run once per text (their outputs are cached), so each epoch only runs the trained layers, on batches of
similar length to avoid padding work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LOGIT_SCALE = 20.0  # cosine-softmax temperature: unit-length embeddings need a scale to separate 77 classes


def _layer_output(layer, hidden, attention_mask):
    out = layer(hidden, attention_mask=attention_mask)
    return out[0] if isinstance(out, tuple) else out


def finetune_top_layers(
    encoder,
    texts: Sequence[str],
    y: np.ndarray,
    n_labels: int,
    *,
    train_layers: int,
    epochs: int,
    batch_size: int,
    encoder_lr: float,
    head_lr: float,
    weight_decay: float,
    warmup_fraction: float,
    max_length: int,
    seed: int,
    progress: bool = True,
) -> tuple[list[float], np.ndarray]:
    """Train ``encoder``'s top ``train_layers`` layers in place.

    Returns the mean loss of each epoch and the tuned embeddings of ``texts`` (computed from the cached
    frozen-layer states, so the training texts are not encoded twice).
    """
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    transformer = encoder[0]
    bert, tokenizer = transformer.auto_model, encoder.tokenizer
    layers = bert.encoder.layer
    first = len(layers) - train_layers
    if not 0 < train_layers <= len(layers):
        raise ValueError(f"train_layers must be in 1..{len(layers)}, got {train_layers}")

    cached = _cache_hidden_states(bert, tokenizer, texts, first, max_length, batch_size * 4, progress)
    for parameter in bert.parameters():
        parameter.requires_grad = False
    top = torch.nn.ModuleList(layers[first:])
    for parameter in top.parameters():
        parameter.requires_grad = True
    dim = bert.config.hidden_size
    head = torch.nn.Linear(dim, n_labels)
    steps = epochs * math.ceil(len(texts) / batch_size)
    optimizer = torch.optim.AdamW(
        [{"params": top.parameters(), "lr": encoder_lr}, {"params": head.parameters(), "lr": head_lr}],
        weight_decay=weight_decay,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[encoder_lr, head_lr], total_steps=steps, pct_start=warmup_fraction, anneal_strategy="linear"
    )
    targets = torch.as_tensor(y, dtype=torch.long)
    lengths = np.array([c.shape[0] for c in cached])
    losses = []
    top.train()
    for epoch in range(epochs):
        batches = _length_buckets(lengths, batch_size, rng)
        total = 0.0
        bar = tqdm(
            batches, desc=f"fine-tune epoch {epoch + 1}/{epochs}", unit="batch", disable=not progress, leave=True
        )
        for batch in bar:
            embedding = _run_top(top, cached, batch, dim)
            loss = torch.nn.functional.cross_entropy(head(embedding * LOGIT_SCALE), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        losses.append(total / len(batches))
    top.eval()
    for parameter in bert.parameters():
        parameter.requires_grad = False
    with torch.no_grad():
        order = np.argsort(lengths, kind="stable")
        embeddings = np.zeros((len(texts), dim), dtype=np.float32)
        for start in range(0, len(order), batch_size * 4):
            batch = order[start : start + batch_size * 4]
            embeddings[batch] = _run_top(top, cached, batch, dim).numpy()
    return losses, embeddings


def _cache_hidden_states(bert, tokenizer, texts, layer_index, max_length, batch_size, progress):
    """Per text, the unpadded hidden states entering layer ``layer_index`` (the frozen part runs once)."""
    import torch
    from tqdm.auto import tqdm

    cached = [None] * len(texts)
    order = np.argsort([len(t) for t in texts], kind="stable")
    bert.eval()
    with torch.no_grad():
        for start in tqdm(range(0, len(order), batch_size), desc="frozen layers", unit="batch", disable=not progress):
            ids = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in ids], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            hidden = bert(**batch, output_hidden_states=True).hidden_states[layer_index]
            for row, i in enumerate(ids):
                cached[i] = hidden[row, : int(batch["attention_mask"][row].sum())].clone()
    return cached


def _length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort inside chunks of 50 batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _run_top(top, cached, batch, dim):
    """Pad the batch's cached states, run the trained layers, mean-pool and normalise (as the encoder does)."""
    import torch

    length = max(cached[i].shape[0] for i in batch)
    hidden = torch.zeros(len(batch), length, dim)
    mask = torch.zeros(len(batch), length)
    for row, i in enumerate(batch):
        n = cached[i].shape[0]
        hidden[row, :n] = cached[i]
        mask[row, :n] = 1
    additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for layer in top:
        hidden = _layer_output(layer, hidden, additive)
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, dim=-1)
