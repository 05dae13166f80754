"""The capstone of notebooks 10 and 11: an encoder with a classifier head, trained on the "match"
word-sense corpus, and what the probes of notebook 11 read from it.

The model reads the encoder's output vector at the position of "match" and maps it to two
scores (fire, sport) with one linear layer:

    logits = head(encoder(token_ids, pad_mask)[b, match_index[b]])      # (B, 2)

``train_match_model()`` builds it (``given.TransformerEncoder`` unless you pass your own encoder
class), trains it on ``course.data.match_corpus()`` with AdamW and a progress bar, and returns
the model and its ``History``. The training step is the one notebook 10 asks you to write
(zero the gradients, loss, backward, optimizer step), plus the bookkeeping for the curves; ``fit``
can also watch a validation split, warm the learning rate up and decay it, and clip gradients.

``train_on`` trains on any ``{"train", "val", "test"}`` splits (the tasks of ``course.data``), with or
without positions; ``bag_of_words_accuracy`` and ``neighbour_accuracy`` are the baselines it is
compared with in notebook 10.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from course import given
from course.data import MatchExample, batchify, encode, load_vocab, match_corpus, pos_tags

# The model notebooks 10 and 11 train: 4 post-LN layers, 4 heads of d_head = 8.
SIZES: dict[str, int] = dict(d_model=32, n_heads=4, d_ff=64, n_layers=4)
MAX_LEN = 32  # longer than any sentence of the corpus (16 tokens at most)
TRAINING: dict[str, float | int] = dict(epochs=3, batch_size=64, lr=3e-3, weight_decay=0.01)
TARGET_ACCURACY = 0.95


class MatchClassifier(nn.Module):
    """An encoder plus a linear head on the vector of "match": ``forward(token_ids, pad_mask,
    match_index) -> logits (B, n_classes)``.

    token_ids: (B, T) int64; pad_mask: (B, T) bool, True on real tokens; match_index: (B,) int64.
    These are the first three tensors of ``course.data.batchify``'s batches, so a batch
    ``(*inputs, labels)`` is called as ``model(*inputs)``.
    """

    def __init__(self, encoder: nn.Module, d_model: int, n_classes: int = 2):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(d_model, n_classes)

    def hidden_states(self, token_ids: torch.Tensor, pad_mask: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's ``n_layers + 1`` states, each (B, T, d_model): the embedded input, then each layer."""
        mask = pad_mask[:, None, None, :]  # (B, 1, 1, T): every query may attend to the real tokens
        return self.encoder(token_ids, mask=mask, return_all_layers=True)

    def forward(self, token_ids: torch.Tensor, pad_mask: torch.Tensor, match_index: torch.Tensor) -> torch.Tensor:
        states = self.encoder(token_ids, mask=pad_mask[:, None, None, :])  # (B, T, d_model)
        rows = torch.arange(token_ids.shape[0], device=token_ids.device)
        return self.head(states[rows, match_index])  # (B, d_model) -> (B, n_classes)


def build_model(encoder_class: type[nn.Module] | None = None, seed: int = 0,
                vocab_size: int | None = None, **sizes: int) -> MatchClassifier:
    """A fresh, untrained ``MatchClassifier`` (post-LN, no dropout) with the weights that
    ``torch.manual_seed(seed)`` gives: the same seed, the same starting point.

    ``encoder_class`` is ``given.TransformerEncoder`` by default; any class with notebook 09's
    constructor and ``forward(token_ids, mask, return_all_layers)`` works. ``sizes`` override ``SIZES``.
    """
    encoder_class = given.TransformerEncoder if encoder_class is None else encoder_class
    sizes = {**SIZES, **sizes}
    vocab_size = len(load_vocab()) if vocab_size is None else vocab_size
    torch.manual_seed(seed)
    encoder = encoder_class(vocab_size, sizes["d_model"], sizes["n_heads"], sizes["d_ff"], sizes["n_layers"],
                            max_len=MAX_LEN)
    return MatchClassifier(encoder, sizes["d_model"])


@dataclass
class History:
    """What happened during training, for the curves.

    step, loss, train_accuracy: one entry per optimisation step (the batch's loss and accuracy,
    measured before that step's update). eval_step, test_loss, test_accuracy: the whole test
    split, every ``eval_every`` steps and after the last one. When ``fit`` is given a validation
    split, the curves are measured on it instead (val_loss, val_accuracy at every eval_step) and
    the test split once, after the last step (test_loss and test_accuracy then hold one value).
    lr: the learning rate of each step; grad_norm: the gradient's norm before clipping, per step
    (only when ``fit`` clips). seconds, cpu_seconds: the wall time and the CPU time of this
    process (all threads) spent in ``fit``.
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    device: str = "cpu"
    encoder: str = ""  # the encoder's class, with its module: "course.given.TransformerEncoder"

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1]


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """bf16/fp16 autocast on ``device`` when ``dtype`` is given, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate_split(model: nn.Module, examples: Sequence[MatchExample], vocab: dict[str, int],
                   batch_size: int = 500, autocast_dtype: torch.dtype | None = None) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``examples``, in eval mode (restored after)."""
    if not examples:
        raise ValueError("evaluate_split() got no examples")
    device, was_training = _device_of(model), model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        for *inputs, labels in batchify(examples, vocab, batch_size):
            inputs, labels = [t.to(device) for t in inputs], labels.to(device)
            with _autocast(device, autocast_dtype):
                logits = model(*inputs)  # (B, 2)
            total_loss += F.cross_entropy(logits.float(), labels, reduction="sum").item()
            correct += (logits.argmax(dim=-1) == labels).sum().item()
    finally:
        model.train(was_training)
    return total_loss / len(examples), correct / len(examples)


def fit(model: nn.Module, train: Sequence[MatchExample], test: Sequence[MatchExample],
        vocab: dict[str, int], epochs: int = TRAINING["epochs"], batch_size: int = TRAINING["batch_size"],
        lr: float = TRAINING["lr"], weight_decay: float = TRAINING["weight_decay"], seed: int = 0,
        eval_every: int = 8, autocast_dtype: torch.dtype | None = None, progress: bool = True,
        threads: int | None = 1, *, val: Sequence[MatchExample] | None = None, warmup_steps: int = 0,
        schedule: str = "constant", min_lr: float = 0.0, clip_grad_norm: float | None = None) -> History:
    """Train ``model`` in place with AdamW and cross-entropy, on the device it is on; return its ``History``.

    Each epoch visits the training examples in a new order (``batchify`` shuffled with seed
    ``seed * 1000 + epoch``), so a run is reproducible. ``autocast_dtype=torch.bfloat16`` runs
    the forward pass in bf16 autocast (the weights and the optimizer stay float32).
    ``progress`` shows a tqdm bar (a widget in Jupyter, text in a terminal). On the CPU, training
    uses ``threads`` threads (restored after; None keeps PyTorch's setting): this model's
    tensors are too small to gain from more, and on a busy machine extra threads wait for each
    other (measured: 20 times slower with 2 threads on 2 shared cores).

    The habits of nanoGPT's ``train.py``, all off by default: ``val``, a validation split measured
    every ``eval_every`` steps (the test split is then measured once, at the end: decisions are
    taken on the validation split, never on the test split); ``warmup_steps`` and ``schedule``,
    the learning rate of each step (``learning_rate``: a linear warm-up, then constant or a cosine
    decay down to ``min_lr``); ``clip_grad_norm``, the largest norm the gradient of all parameters
    together may have (``torch.nn.utils.clip_grad_norm_``).
    """
    device = _device_of(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total_steps = epochs * math.ceil(len(train) / batch_size)
    rates = [learning_rate(step, total_steps, lr, warmup_steps, schedule, min_lr) for step in range(total_steps)]
    with cpu_threads(threads, device):
        return _train(model, train, test, vocab, epochs, batch_size, seed, eval_every, autocast_dtype, progress,
                      optimizer, val=val, rates=rates, clip_grad_norm=clip_grad_norm)


def learning_rate(step: int, total_steps: int, lr: float, warmup_steps: int = 0, schedule: str = "constant",
                  min_lr: float = 0.0) -> float:
    """The learning rate of step ``step`` (0, 1, ..., total_steps - 1), as nanoGPT's ``get_lr``.

    A linear warm-up from ``lr / warmup_steps`` to ``lr`` over the first ``warmup_steps`` steps
    (Adam's running averages are poor estimates at first: big steps there can throw a post-LN
    model off), then ``lr`` (``schedule="constant"``) or a half cosine from ``lr`` down to
    ``min_lr`` at the last step (``schedule="cosine"``: small steps at the end settle the weights).
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    progress = (step - warmup_steps) / max(1, total_steps - 1 - warmup_steps)  # 0 -> 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) * (lr - min_lr)


@contextlib.contextmanager
def cpu_threads(n: int | None, device: torch.device | str = "cpu"):
    """Run the block with ``n`` intra-op threads when ``device`` is the CPU (PyTorch's setting is
    restored after; ``n=None`` changes nothing). ``with capstone.cpu_threads(1): ...``"""
    previous = torch.get_num_threads()
    if torch.device(device).type == "cpu" and n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _step(model: nn.Module, inputs: list[torch.Tensor], labels: torch.Tensor, optimizer: torch.optim.Optimizer,
          autocast_dtype: torch.dtype | None, clip_grad_norm: float | None = None) -> tuple[float, float, float]:
    """One optimisation step (notebook 10's ``train_step``): ``(loss, accuracy)`` of the batch before the
    update, and the gradient's norm before clipping (NaN when ``clip_grad_norm`` is None: not computed)."""
    device = _device_of(model)
    inputs, labels = [t.to(device) for t in inputs], labels.to(device)
    model.train()
    optimizer.zero_grad()
    with _autocast(device, autocast_dtype):
        logits = model(*inputs)  # (B, 2)
    loss = F.cross_entropy(logits.float(), labels)  # in float32 even under autocast
    loss.backward()
    norm = math.nan
    if clip_grad_norm is not None:  # rescale all gradients together so that their norm is at most clip_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm).item()
    optimizer.step()
    return loss.item(), (logits.argmax(dim=-1) == labels).float().mean().item(), norm


def _train(model: nn.Module, train: Sequence[MatchExample], test: Sequence[MatchExample], vocab: dict[str, int],
           epochs: int, batch_size: int, seed: int, eval_every: int, autocast_dtype: torch.dtype | None,
           progress: bool, optimizer: torch.optim.Optimizer, val: Sequence[MatchExample] | None = None,
           rates: Sequence[float] | None = None, clip_grad_norm: float | None = None) -> History:
    """``fit``'s loop: one step per batch; every ``eval_every`` steps the validation split (the test split
    when there is none)."""
    device = _device_of(model)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total_steps = epochs * steps_per_epoch
    encoder_class = type(getattr(model, "encoder", model))
    history = History(device=str(device), encoder=f"{encoder_class.__module__}.{encoder_class.__qualname__}")
    watched = test if val is None else val
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    bar = tqdm(total=total_steps, desc="training", unit="step", disable=not progress)
    step = 0
    for epoch in range(epochs):
        for *inputs, labels in batchify(train, vocab, batch_size, shuffle=True, seed=seed * 1000 + epoch):
            if rates is not None:
                for group in optimizer.param_groups:
                    group["lr"] = rates[step]
            history.lr.append(optimizer.param_groups[0]["lr"])
            loss, accuracy, norm = _step(model, inputs, labels, optimizer, autocast_dtype, clip_grad_norm)
            step += 1
            history.step.append(step)
            history.loss.append(loss)
            history.train_accuracy.append(accuracy)
            if clip_grad_norm is not None:
                history.grad_norm.append(norm)
            if step % eval_every == 0 or step == total_steps:
                watched_loss, watched_accuracy = evaluate_split(model, watched, vocab, autocast_dtype=autocast_dtype)
                history.eval_step.append(step)
                (history.test_loss if val is None else history.val_loss).append(watched_loss)
                (history.test_accuracy if val is None else history.val_accuracy).append(watched_accuracy)
                bar.set_postfix({"loss": f"{loss:.3f}", ("test" if val is None else "val") + "_accuracy":
                                 f"{watched_accuracy:.3f}"})
            bar.update()
    bar.close()
    if val is not None:  # the test split, once, at the end
        test_loss, test_accuracy = evaluate_split(model, test, vocab, autocast_dtype=autocast_dtype)
        history.test_loss.append(test_loss)
        history.test_accuracy.append(test_accuracy)
    model.eval()
    history.seconds = time.perf_counter() - start_wall
    history.cpu_seconds = time.process_time() - start_cpu
    return history


def train_match_model(encoder_class: type[nn.Module] | None = None, seed: int = 0, device: str | torch.device = "cpu",
                      autocast_dtype: torch.dtype | None = None, progress: bool = True,
                      **settings) -> tuple[MatchClassifier, History]:
    """Build a ``MatchClassifier`` and train it on ``match_corpus(seed=seed)``: ``(model, history)``.

    The defaults (``SIZES``, ``TRAINING``) reach >= 95 % test accuracy in a few seconds of CPU.
    ``settings`` may override any size (d_model, n_heads, d_ff, n_layers) or any argument of
    ``fit`` (epochs, batch_size, lr, ...). The model comes back in eval mode, on ``device``.
    """
    sizes = {key: settings.pop(key) for key in list(settings) if key in SIZES}
    vocab = load_vocab()
    corpus = match_corpus(seed=seed)
    model = build_model(encoder_class, seed=seed, vocab_size=len(vocab), **sizes).to(device)
    history = fit(model, corpus["train"], corpus["test"], vocab, seed=seed, autocast_dtype=autocast_dtype,
                  progress=progress, **settings)
    return model, history


def choose_encoder(candidate: type[nn.Module] | None) -> tuple[type[nn.Module], str]:
    """Your ``TransformerEncoder`` when it passes every public check of notebook 09, else
    ``given.TransformerEncoder``: ``(the class to train, a sentence saying which one and why)``."""
    if candidate is None:
        return given.TransformerEncoder, "given.TransformerEncoder (no encoder of yours was given)"
    from grader import exercises
    from grader.judge import grade_answer

    result = grade_answer(exercises.get("TransformerEncoder"), candidate)
    failed = [c.name for c in result.checks if not c.passed]
    if result.status == "graded" and not failed:
        return candidate, f"your TransformerEncoder (it passes all {len(result.checks)} public checks)"
    why = "it is not attempted yet" if result.status == "not_attempted" else \
        f"it fails the public checks {', '.join(failed)}" if failed else f"grading it ended with {result.status}"
    return given.TransformerEncoder, f"given.TransformerEncoder, not yours: {why} (run check(TransformerEncoder) to see why)"


# ---------------------------------------------------------------- looking inside (plots and probes)

def _one_sentence(words: Sequence[str], vocab: dict[str, int], device: torch.device):
    token_ids = torch.from_numpy(encode(words, vocab))[None].to(device)  # (1, T)
    return token_ids, torch.ones_like(token_ids, dtype=torch.bool)


@torch.no_grad()
def match_attention(model: MatchClassifier, words: Sequence[str], vocab: dict[str, int]) -> torch.Tensor:
    """How much "match" attends to each word of one sentence, per layer and head: ``(n_layers, H, T)``.

    Reads ``attention_weights``, which ``given.EncoderBlock`` keeps from its last forward pass
    (the skeleton of notebook 09's ``TransformerEncoder`` builds its layers from it).
    """
    model.eval()
    token_ids, pad_mask = _one_sentence(words, vocab, _device_of(model))
    layers = model.encoder.layers
    kept = [getattr(layer, "keep_attention_weights", True) for layer in layers]
    for layer in layers:  # a block built with keep_attention_weights=False keeps none: ask for them once
        layer.keep_attention_weights = True
    try:
        model.hidden_states(token_ids, pad_mask)
    finally:
        for layer, keep in zip(layers, kept):
            layer.keep_attention_weights = keep
    where = list(words).index("match")
    return torch.stack([layer.attention_weights[0, :, where].float().cpu() for layer in layers])  # (L, H, T)


@torch.no_grad()
def layer_vectors(model: MatchClassifier, examples: Sequence[MatchExample], vocab: dict[str, int],
                  batch_size: int = 500) -> list[list[torch.Tensor]]:
    """Every layer's vector of every real token: ``out[l][i]`` is ``(len(examples[i].words), d_model)``
    at layer ``l`` (0 = embedding + positions, ..., n_layers = the output), float32 on the CPU."""
    model.eval()
    device = _device_of(model)
    out: list[list[torch.Tensor]] | None = None
    start = 0
    for token_ids, pad_mask, _, _ in batchify(examples, vocab, batch_size):
        states = model.hidden_states(token_ids.to(device), pad_mask.to(device))  # n_layers + 1 x (B, T, d)
        out = out if out is not None else [[] for _ in states]
        for layer, state in enumerate(states):
            state = state.float().cpu()
            out[layer].extend(state[i, :len(ex.words)] for i, ex in enumerate(examples[start:start + len(token_ids)]))
        start += len(token_ids)
    return out if out is not None else []


def match_vectors(model: MatchClassifier, examples: Sequence[MatchExample], vocab: dict[str, int]) -> torch.Tensor:
    """The vector of "match" at every layer: ``(n_layers + 1, N, d_model)``."""
    return _at_match(layer_vectors(model, examples, vocab), examples)


def _at_match(per_layer: list[list[torch.Tensor]], examples: Sequence[MatchExample]) -> torch.Tensor:
    return torch.stack([torch.stack([vectors[ex.match_index] for vectors, ex in zip(layer, examples)])
                        for layer in per_layer])  # (L + 1, N, d)


def unseen_examples(n: int, exclude: Sequence[MatchExample], seed: int = 1) -> list[MatchExample]:
    """``n`` sentences of ``match_corpus(seed=seed)`` that are not in ``exclude`` (e.g. a model's
    training split): fresh data for probes. Half fire, half sport, shuffled."""
    seen = {ex.words for ex in exclude}
    pool = match_corpus(n_train=0, n_test=n + len(seen), seed=seed)["test"]
    by_sense = [[ex for ex in pool if ex.words not in seen and ex.label == label] for label in (0, 1)]
    chosen = by_sense[0][: n // 2] + by_sense[1][: n - n // 2]
    if len(chosen) < n:
        raise ValueError(f"unseen_examples: only {len(chosen)} of the {n} sentences asked for are not in `exclude` "
                         "with an even split of the senses; ask for fewer")
    order = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed))
    return [chosen[i] for i in order.tolist()]


@dataclass
class ProbeData:
    """What notebook 11 probes, layer by layer (layer 0 = embedding + positions).

    sense_states: (L + 1, N, d) the vector of "match" in N sentences; sense_labels: (N,) 0 = fire, 1 = sport.
    pos_states: (L + 1, M, d) the vectors of all M tokens of the same sentences, sentence after
    sentence; pos_labels: (M,) indices into ``course.data.POS_TAGS``; pos_words: the M tokens.
    """

    sense_states: torch.Tensor
    sense_labels: torch.Tensor
    pos_states: torch.Tensor
    pos_labels: torch.Tensor
    pos_words: list[str]


def probe_data(model: MatchClassifier, examples: Sequence[MatchExample], vocab: dict[str, int]) -> ProbeData:
    """The layers' vectors and the two labels (sense of "match", part of speech of every token)."""
    per_layer = layer_vectors(model, examples, vocab)
    tokens = torch.stack([torch.cat(layer) for layer in per_layer])  # (L + 1, M, d)
    return ProbeData(
        sense_states=_at_match(per_layer, examples),
        sense_labels=torch.tensor([ex.label for ex in examples]),
        pos_states=tokens,
        pos_labels=torch.tensor([tag for ex in examples for tag in pos_tags(ex.words)]),
        pos_words=[word for ex in examples for word in ex.words],
    )


# ---------------------------------------------------------------- baselines and controlled runs (notebook 10)

def bag_of_words_accuracy(train: Sequence[MatchExample], test: Sequence[MatchExample], vocab: dict[str, int],
                          ignore: Sequence[str] = ("match",), l2: float = 1e-3, steps: int = 100) -> float:
    """Test accuracy of a logistic regression on word counts: word order ignored, ``ignore`` left out.

    Fitted on ``train`` by full-batch L-BFGS (``steps`` iterations, an L2 penalty ``l2`` on the weights);
    a tie (logit exactly 0) counts as fire. The baseline a task must beat to show that order matters.
    """
    from course.probes import bag_of_words

    def counts(examples):
        return (bag_of_words(examples, vocab, leave_out=ignore),
                torch.tensor([float(ex.label) for ex in examples], dtype=torch.float64))

    x, y = counts(train)
    weights = torch.zeros(len(vocab), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ weights + bias, y) + l2 * weights.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    x_test, y_test = counts(test)
    with torch.no_grad():
        predictions = (x_test @ weights + bias > 0).double()
    return (predictions == y_test).double().mean().item()


def neighbour_accuracy(train: Sequence[MatchExample], test: Sequence[MatchExample]) -> float:
    """Test accuracy of a look-up on the two neighbours of "match": the majority label of the training
    sentences with the same (word before, word after) pair; for a pair training never saw, the
    majority label of all training sentences (a tie: fire)."""
    from collections import Counter, defaultdict

    def neighbours(ex):
        before = ex.words[ex.match_index - 1] if ex.match_index > 0 else "<start>"
        after = ex.words[ex.match_index + 1] if ex.match_index + 1 < len(ex.words) else "<end>"
        return before, after

    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for ex in train:
        votes[neighbours(ex)][ex.label] += 1
    overall = Counter(ex.label for ex in train)

    def majority(counter):
        return int(counter[1] > counter[0])

    correct = sum(majority(votes.get(neighbours(ex), overall)) == ex.label for ex in test)
    return correct / len(test)


def train_on(splits: dict[str, Sequence[MatchExample]], seed: int = 0, positions: bool = True,
             encoder_class: type[nn.Module] | None = None, test: str = "test", progress: bool = False,
             **settings) -> tuple[MatchClassifier, History]:
    """Build a ``MatchClassifier`` and train it on ``splits["train"]``: ``(model, history)``.

    The validation split ``splits["val"]`` is watched during training when there is one (and not empty), and
    ``splits[test]`` is measured at the end. ``settings`` may override any size (d_model, n_heads,
    d_ff, n_layers) or any argument of ``fit``. ``positions=False`` replaces the positional encoding by
    the identity: the encoder then sees a bag of words (attention treats all positions alike).
    """
    sizes = {key: settings.pop(key) for key in list(settings) if key in SIZES}
    vocab = load_vocab()
    model = build_model(encoder_class, seed=seed, vocab_size=len(vocab), **sizes)
    if not positions:
        model.encoder.pos_encoding = nn.Identity()
    history = fit(model, splits["train"], splits[test], vocab, seed=seed, val=splits.get("val") or None,
                  progress=progress, **settings)
    return model, history


# ---------------------------------------------------------------- saving and loading (notebook 10, section 6)

def save_weights(model: nn.Module, path) -> None:
    """Write ``model.state_dict()`` (every parameter and buffer, by name) to ``path`` with ``torch.save``."""
    torch.save(model.state_dict(), path)


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load the ``state_dict`` saved at ``path`` into ``model`` (same architecture) and return it in eval mode.

    ``torch.load(path, weights_only=True)`` reads tensors only, never arbitrary Python objects: the
    safe way to read a file someone else made. ``load_state_dict`` is strict: a missing or extra
    name, or a tensor of another shape, is an error.
    """
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()
