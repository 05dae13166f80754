"""course.given: the working versions of earlier exercises that later notebooks build on.

Each one must be a correct answer of its exercise: full marks from every check, public and
hidden, exactly as a student's answer would be graded. A wrong given piece would silently
break every notebook after its own.
"""
import pytest

from course import given
from grader.exercises import EXERCISES
from grader.judge import grade_answer

pytestmark = pytest.mark.usefixtures("torch_single_thread")

# exercise name -> the given piece that stands in for it
GIVEN = {
    "scaled_dot_product_attention": given.attention,
    "split_heads": given.split_heads,
    "merge_heads": given.merge_heads,
    "MultiHeadAttention": given.MultiHeadAttention,
    "sinusoidal_positional_encoding": given.sinusoidal_positional_encoding,
    "PositionalEncoding": given.PositionalEncoding,
    "FeedForward": given.FeedForward,
    "EncoderBlock": given.EncoderBlock,
    "TransformerEncoder": given.TransformerEncoder,
}


def test_every_given_piece_is_listed():
    assert sorted(given.__all__) == sorted(piece.__name__ for piece in GIVEN.values())


@pytest.mark.parametrize("name", sorted(GIVEN))
def test_given_piece_gets_full_marks(name):
    result = grade_answer(EXERCISES[name], GIVEN[name], include_hidden=True, secret="given")
    failures = [(c.name, c.status, c.message) for c in result.checks if not c.passed]
    assert result.earned == result.points > 0, failures


def test_given_block_keeps_its_attention_weights():
    import torch

    block = given.EncoderBlock(8, 2, 16).eval()
    x = torch.randn(3, 5, 8)
    block(x)
    assert block.attention_weights.shape == (3, 2, 5, 5)
    assert torch.allclose(block.attention_weights.sum(-1), torch.ones(3, 2, 5))
