"""Known mistakes for notebook 07: sinusoidal_positional_encoding, PositionalEncoding."""
import torch
import torch.nn.functional as F
from torch import nn

from ..positional import sinusoidal_positional_encoding as _correct_pe
from . import bug


def _angles(T, d_model, exponent):
    """(T, ceil(d_model / 2)) angles pos / 10000**exponent, one per sin/cos pair."""
    position = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    return position / 10000 ** exponent


# --- sinusoidal_positional_encoding ----------------------------------------------------------


@bug("sinusoidal_positional_encoding", "concatenated", "sin and cos are concatenated (all sines, then all cosines) "
     "instead of interleaved",
     "Columns must alternate sin, cos, sin, cos: pe[:, 0::2] = sin(angle) and pe[:, 1::2] = cos(angle), "
     "not torch.cat([sin, cos], dim=-1).",
     mistake="pe_concatenated")
def pe_concatenated(T, d_model):
    angle = _angles(T, d_model, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.cat([torch.sin(angle), torch.cos(angle[:, : d_model // 2])], dim=-1)


@bug("sinusoidal_positional_encoding", "exponent_i", "the exponent is i/d_model instead of 2i/d_model",
     "The pair (2i, 2i+1) uses 10000**(2i / d_model): with i = 0, 1, 2... the exponent is 2*i / d_model "
     "(or torch.arange(0, d_model, 2) / d_model).",
     mistake="pe_exponent_i")
def pe_exponent_i(T, d_model):
    angle = _angles(T, d_model, torch.arange((d_model + 1) // 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


@bug("sinusoidal_positional_encoding", "column_exponent", "each column uses its own index j in the exponent "
     "(the cosine of pair i gets (2i+1)/d_model instead of 2i/d_model)",
     "A sin column and the cos column next to it share one frequency: for column j use the even index "
     "2i = j - j % 2 in 10000**(2i / d_model).")
def pe_column_exponent(T, d_model):
    angle = _angles(T, d_model, torch.arange(d_model, dtype=torch.float64) / d_model)
    even = torch.arange(d_model) % 2 == 0
    return torch.where(even, torch.sin(angle), torch.cos(angle))


@bug("sinusoidal_positional_encoding", "sin_cos_swapped", "sin and cos are swapped (cos in the even columns)",
     "pe[pos, 2i] is the sine and pe[pos, 2i+1] the cosine: row 0 must start [0, 1, 0, 1, ...].")
def pe_swapped(T, d_model):
    angle = _angles(T, d_model, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.cos(angle)
    pe[:, 1::2] = torch.sin(angle[:, : d_model // 2])
    return pe



@bug("sinusoidal_positional_encoding", "positions_from_one", "positions are counted from 1 instead of 0 "
     "(row 0 holds the encoding of position 1)",
     "The first token is position 0: torch.arange(T), not torch.arange(1, T + 1). Row 0 must be [0, 1, 0, 1, ...].")
def pe_positions_from_one(T, d_model):
    position = torch.arange(1, T + 1, dtype=torch.float64).unsqueeze(1)
    angle = position / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe

# --- PositionalEncoding ----------------------------------------------------------------------


@bug("PositionalEncoding", "not_added", "the positional encoding is never added: forward returns x unchanged",
     "forward must return x + self.pe[:x.size(1)] (then dropout), not x itself.",
     mistake="pe_not_added")
class PENotAdded(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", _correct_pe(max_len, d_model))

    def forward(self, x):
        return self.dropout(x)


@bug("PositionalEncoding", "wrong_axis", "the table is sliced by the batch size (pe[:B]) and added across time",
     "x is (B, T, d_model), batch first: use self.pe[:x.size(1)] (T positions), which broadcasts over the "
     "batch. pe[:x.size(0)] is the recipe for (T, B, d_model) inputs.",
     mistake="batch_time_swapped")
class PEWrongAxis(PENotAdded):
    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0)].unsqueeze(1))


@bug("PositionalEncoding", "parameter", "`pe` is stored as an nn.Parameter instead of a buffer",
     "A Parameter is trained by the optimizer: the table must stay fixed. Use self.register_buffer('pe', pe).",
     mistake="pe_not_buffer")
class PEParameter(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.pe = nn.Parameter(_correct_pe(max_len, d_model), requires_grad=False)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)])


@bug("PositionalEncoding", "plain_attribute", "`pe` is a plain tensor attribute, not a registered buffer",
     "self.pe = table is invisible to .to(device) (a device error on the GPU) and to state_dict: "
     "use self.register_buffer('pe', table).",
     mistake="pe_not_buffer")
class PEPlainAttribute(PEParameter):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        nn.Module.__init__(self)
        self.dropout = nn.Dropout(dropout)
        self.pe = _correct_pe(max_len, d_model)



class _TablePE(nn.Module):
    """The reference module with the table made by ``table`` (one of the functions above)."""

    table = staticmethod(_correct_pe)

    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", self.table(max_len, d_model).to(torch.get_default_dtype()))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)])


@bug("PositionalEncoding", "concatenated", "the table has sin and cos concatenated (all sines, then all cosines) "
     "instead of interleaved",
     "Columns must alternate sin, cos, sin, cos: pe[:, 0::2] = sin(angle) and pe[:, 1::2] = cos(angle), "
     "not torch.cat([sin, cos], dim=-1).",
     mistake="pe_concatenated")
class PEConcatenated(_TablePE):
    table = staticmethod(pe_concatenated)


@bug("PositionalEncoding", "exponent_i", "the table uses the exponent i/d_model instead of 2i/d_model",
     "The pair (2i, 2i+1) uses 10000**(2i / d_model): torch.arange(0, d_model, 2) / d_model.",
     mistake="pe_exponent_i")
class PEExponentI(_TablePE):
    table = staticmethod(pe_exponent_i)


@bug("PositionalEncoding", "dropout_in_eval", "dropout stays active in eval mode",
     "F.dropout(x, p) drops values even after model.eval(): use self.dropout (an nn.Dropout) or "
     "F.dropout(x, p, training=self.training).",
     mistake="dropout_in_eval")
class PEDropoutInEval(_TablePE):
    def forward(self, x):
        return F.dropout(x + self.pe[: x.size(1)], self.dropout.p)


@bug("PositionalEncoding", "dropout_unused", "the `dropout` argument is never used: no dropout in training mode",
     "__init__ creates self.dropout = nn.Dropout(dropout); forward must apply it: self.dropout(x + self.pe[:T]).")
class PEDropoutUnused(_TablePE):
    def forward(self, x):
        return x + self.pe[: x.size(1)]


@bug("PositionalEncoding", "dropout_before_adding", "dropout is applied to x before the positions are added, "
     "so the positional encoding itself is never dropped",
     "Add first, then drop: self.dropout(x + self.pe[:T]) (as in the original Transformer).")
class PEDropoutBeforeAdding(_TablePE):
    def forward(self, x):
        return self.dropout(x) + self.pe[: x.size(1)]


@bug("PositionalEncoding", "cut_short", "a sentence longer than max_len is cut to max_len positions silently "
     "(the output is shorter than the input)",
     "The table has max_len rows: when x.size(1) > max_len raise a ValueError that says so; cutting the "
     "sentence returns fewer tokens than came in, and the next layer never knows.")
class PECutShort(_TablePE):
    def forward(self, x):
        T = min(x.size(1), self.pe.size(0))
        return self.dropout(x[:, :T] + self.pe[:T])
