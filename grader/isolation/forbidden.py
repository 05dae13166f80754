"""The built-ins an exercise may not call, as families: every route to the same computation.

An exercise whose point is to write softmax by hand must not reach PyTorch's softmax by any
name: ``torch.softmax``, ``F.softmax``, ``x.softmax``, ``nn.Softmax``, ``torch.ops.aten._softmax``,
a name assembled at run time, or ``log_softmax(...).exp()``. A family lists

- ``names``: the Python names of those routes. The static check (the fast first line, and the
  only one in a student's own ``check()``) looks for them in the answer's source; in grading,
  the sandboxed child replaces each callable of that name (in ``torch``, ``torch.nn.functional``,
  ``torch.Tensor``, ``torch.nn``, ``torch.ops.aten``, ``torch._C._nn``...) with a recorder
  (:mod:`grader.isolation.tripwire`);
- ``aten``: the kernels the computation ends in whatever Python route reached them, watched
  below the Python level while the student's code runs (a ``*`` suffix matches a prefix).

Imported by both sides: no torch here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    key: str
    shown: str  # what the notebook tells students, e.g. "torch.softmax, F.softmax, x.softmax(...)"
    names: tuple[str, ...]
    aten: tuple[str, ...] = ()
    modules: bool = False  # building any nn.Module counts (count_parameters must not build a model)


FAMILIES: dict[str, Family] = {f.key: f for f in [
    Family("softmax",
           "PyTorch's or SciPy's softmax in any spelling (`torch.softmax`, `F.softmax`, `x.softmax(...)`, "
           "`nn.Softmax`, `log_softmax`, `softmin`, `logsumexp`, `scipy.special.softmax`)",
           names=("softmax", "log_softmax", "softmin", "logsumexp", "Softmax", "LogSoftmax", "Softmin",
                  "Softmax2d", "_softmax", "_log_softmax"),
           aten=("_softmax", "_log_softmax", "logsumexp", "_safe_softmax")),
    Family("cosine",
           "a built-in cosine similarity (`F.cosine_similarity`, `nn.CosineSimilarity`, `scipy.spatial.distance.cosine`)",
           names=("cosine_similarity", "CosineSimilarity", "cosine"),
           aten=("cosine_similarity",)),
    Family("attention",
           "PyTorch's fused attention (`F.scaled_dot_product_attention`, `torch.ops.aten._scaled_dot_product_*`)",
           names=("scaled_dot_product_attention", "_scaled_dot_product_attention_math",
                  "_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_for_cpu",
                  "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
                  "_fused_sdp_choice"),
           # _safe_softmax: the math path of the fused attention on the CPU ends in it (and only that path)
           aten=("scaled_dot_product_attention", "_scaled_dot_product_*", "_fused_sdp_choice", "_safe_softmax")),
    Family("multi_head_attention",
           "PyTorch's multi-head attention (`nn.MultiheadAttention`, `F.multi_head_attention_forward`)",
           names=("MultiheadAttention", "multi_head_attention_forward", "_native_multi_head_attention"),
           aten=("_native_multi_head_attention",)),
    Family("normalisation",
           "PyTorch's normalisation layers, this one or another used to the same end (`F.layer_norm`, "
           "`nn.LayerNorm`, `F.group_norm`, `F.instance_norm`, `F.batch_norm`, `F.rms_norm`, their `nn` "
           "modules and `torch.ops.aten` kernels)",
           names=("layer_norm", "LayerNorm", "native_layer_norm", "group_norm", "GroupNorm", "native_group_norm",
                  "instance_norm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "batch_norm",
                  "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "native_batch_norm", "_native_batch_norm_legit",
                  "_batch_norm_impl_index", "rms_norm", "RMSNorm", "_fused_rms_norm"),
           aten=("native_layer_norm", "layer_norm", "native_group_norm", "group_norm", "native_batch_norm",
                 "_native_batch_norm_legit*", "batch_norm", "_batch_norm_*", "instance_norm", "cudnn_batch_norm",
                 "miopen_batch_norm", "rms_norm", "_fused_rms_norm")),
    Family("transformer_layer",
           "PyTorch's Transformer layers (`nn.TransformerEncoderLayer`, `nn.TransformerEncoder`, `nn.Transformer`)",
           names=("TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "Transformer",
                  "_transformer_encoder_layer_fwd"),
           aten=("_transformer_encoder_layer_fwd", "_native_multi_head_attention")),
    Family("counting",
           "counting a built model's parameters (`numel`, `nelement`, or building any `nn.Module`): "
           "the count must be a formula of the sizes",
           names=("numel", "nelement"),
           modules=True),
]}


def family_names(keys: tuple[str, ...]) -> tuple[str, ...]:
    """All Python names of the given families (what the static check looks for)."""
    return tuple(dict.fromkeys(name for key in keys for name in FAMILIES[key].names))


def describe(keys: tuple[str, ...]) -> str:
    """One student-facing sentence part: what the exercise may not call."""
    return "; ".join(FAMILIES[key].shown for key in keys)


def aten_matches(op_name: str, patterns: tuple[str, ...]) -> bool:
    """``op_name`` ("_softmax", from "aten::_softmax.default") against patterns with an optional ``*`` suffix."""
    return any(op_name.startswith(p[:-1]) if p.endswith("*") else op_name == p for p in patterns)
