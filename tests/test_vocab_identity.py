"""The vocabulary is never guessed: bound per config, checked against the model, stored with checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snitk.errors import ConfigError


@pytest.fixture(scope="module")
def char_spm(tmp_path_factory) -> Path:
    """A tiny character-level SentencePiece model (pad 0, eos 1, unk 2), another vocabulary than the demo's."""
    import sentencepiece as spm

    d = tmp_path_factory.mktemp("spm")
    text = d / "text.txt"
    import string

    text.write_text("\n".join(["Definition: copy the input. Input: a b c. Output: a b c."] * 20
                              + [" ".join(string.ascii_letters + string.digits + string.punctuation)] * 20))
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(d / "char"), vocab_size=100, model_type="char",
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
                                   minloglevel=2)
    return d / "char.model"


def test_padding_to_a_multiple_of_128_is_the_only_tolerated_disagreement():
    from snitk.vocab import check_model_vocab

    check_model_vocab(32_100, 32_128)        # T5: 32,000 + 100 extra ids, padded
    check_model_vocab(250_100, 250_112)      # mT5
    check_model_vocab(3_100, 3_200)          # the demo (vocab_from_task pads to 128)
    check_model_vocab(3_100, 3_100)
    check_model_vocab(3_100, 3_104, pad_to=8)
    for size, model, pad_to in ((32_000, 32_128, 128), (32_100, 32_256, 128), (250_200, 250_112, 128),
                                (3_100, 3_328, 128), (3_100, 3_000, 128), (3_100, 3_200, 8)):
        with pytest.raises(ConfigError, match=f"vocab_size={model}"):
            check_model_vocab(size, model, pad_to=pad_to)


def test_len_budget_counts_with_the_bound_vocabulary(repo_root, char_spm):
    """`_lenN` selections truncate with the vocabulary gin binds, not the demo one."""
    import gin

    from snitk import tasks as T
    from snitk.prompts import render
    from snitk.vocab import get_vocabulary

    sel = T.Selection("default", "def_pos2", str(repo_root / "tasks"), 2, 3, 42, 64, None)
    char = get_vocabulary(str(char_spm))
    demo = get_vocabulary()
    gin.clear_config()
    try:
        gin.parse_config(f"snitk.tasks.vocabulary.spec = '{char_spm}'")
        assert T.bound_vocabulary() == (str(char_spm), 100)
        examples = list(T.iter_examples(sel, "train"))
    finally:
        gin.clear_config()
    assert examples
    from snitk.natinst.corpus import Corpus

    tasks = {t.name: t for t in Corpus(repo_root / "tasks", "default").train_tasks(max_per_task=2, seed=42, num_tasks=3)}
    differs = 0
    for ex in examples:
        task = tasks[ex["task"]]
        inst = next(i for i in task.instances if i.id == ex["id"])
        assert len(char.encode(ex["inputs"])) + 1 <= 64 + 1  # decoding a cut may merge one piece
        assert ex["inputs"] == render(task, inst, "def_pos2", token_budget=64, vocab=char)
        differs += ex["inputs"] != render(task, inst, "def_pos2", token_budget=64, vocab=demo)
    assert differs == len(examples)  # the demo vocabulary would have cut elsewhere


def test_keeptail_names_register_and_keep_the_cue(repo_root):
    from snitk import tasks as T

    name = T.register_by_name("snitk_default_def_pos2_inst2_tasks2_len48_keeptail", data_dir=repo_root / "tasks")
    assert name.endswith("_len48_keeptail") and T._REGISTERED[name].truncation == "keep-tail"
    examples = list(T.iter_examples(T._REGISTERED[name], "train"))
    assert examples and all(ex["inputs"].endswith("Output: ") for ex in examples)


@pytest.mark.parametrize("binding, message", [("VOCABULARY = None", "no vocabulary is bound"),
                                              ("snitk.tasks.vocabulary.extra_ids = 0", "vocab_size=32128")])
def test_paper_config_refuses_unset_or_mismatched_vocabulary(tmp_path, capsys, binding, message):
    from snitk.training.train import main

    rc = main(["--gin_file=experiments/tk_instruct_3b_8gpu.gin", f"--gin.MODEL_DIR='{tmp_path}/m'", "--dry_run",
               f"--gin_bindings={binding}"])
    captured = capsys.readouterr()
    assert rc == 2 and message in captured.err and "parameters:" not in captured.out  # nothing planned/compiled


@pytest.fixture(scope="module")
def stored_checkpoint(tmp_path_factory):
    import jax

    from snitk.models.checkpoint import save_model, write_vocab_identity
    from snitk.models.configs import get_preset
    from snitk.models.model import EncoderDecoderModel
    from snitk.vocab import DEMO_VOCAB, get_vocabulary
    from snitk.vocab_identity import identity

    cfg = get_preset("t5_1_1_tiny").replace(vocab_size=get_vocabulary().vocab_size, emb_dim=16, num_heads=2,
                                            head_dim=8, mlp_dim=32, num_encoder_layers=1, num_decoder_layers=1)
    path = tmp_path_factory.mktemp("ck") / "model"
    save_model(path, cfg, EncoderDecoderModel(cfg).init_params(jax.random.key(0)))
    write_vocab_identity(path, identity(DEMO_VOCAB))
    return path


def test_checkpoint_vocabulary_is_used_and_a_different_one_refused(stored_checkpoint, char_spm):
    from snitk.models.checkpoint import load_vocab_identity
    from snitk.vocab import DEMO_VOCAB
    from snitk.vocab_identity import checkpoint_vocabulary, sha256_file

    stored = load_vocab_identity(stored_checkpoint)
    assert stored["sha256"] == sha256_file(DEMO_VOCAB) and stored["size"] == 3100
    assert Path(checkpoint_vocabulary(stored_checkpoint, None).path) == DEMO_VOCAB
    assert Path(checkpoint_vocabulary(stored_checkpoint, DEMO_VOCAB).path) == DEMO_VOCAB
    with pytest.raises(ConfigError, match="allow-vocab-mismatch"):
        checkpoint_vocabulary(stored_checkpoint, char_spm)
    assert Path(checkpoint_vocabulary(stored_checkpoint, char_spm, allow_mismatch=True).path) == char_spm


def test_bundled_vocabulary_of_another_checkout_is_found_by_sha256(tmp_path, char_spm):
    """A checkpoint trained in another clone names that clone's demo_spm.model: the bundled copy with the
    same sha256 is used; any other missing file is an error asking for --vocab."""
    import jax

    from snitk.models.checkpoint import save_model, write_vocab_identity
    from snitk.models.configs import get_preset
    from snitk.models.model import EncoderDecoderModel
    from snitk.vocab import DEMO_VOCAB
    from snitk.vocab_identity import checkpoint_vocabulary, identity

    cfg = get_preset("t5_1_1_tiny").replace(vocab_size=3200, emb_dim=16, num_heads=2, head_dim=8, mlp_dim=32,
                                            num_encoder_layers=1, num_decoder_layers=1)
    moved, other = tmp_path / "moved", tmp_path / "other"
    for path, vocab in ((moved, DEMO_VOCAB), (other, char_spm)):
        save_model(path, cfg, EncoderDecoderModel(cfg).init_params(jax.random.key(0)))
        write_vocab_identity(path, {**identity(vocab), "path": f"/gone/clone/snitk/assets/{Path(vocab).name}"})
    assert Path(checkpoint_vocabulary(moved, None).path) == DEMO_VOCAB
    with pytest.raises(ConfigError, match="is not on this machine; pass --vocab"):
        checkpoint_vocabulary(other, None)


def test_generate_cli_refuses_another_vocabulary(stored_checkpoint, char_spm, tmp_path, capsys):
    from snitk.models.__main__ import main

    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "a", "inputs": "copy a b"}) + "\n")
    args = ["generate", "--checkpoint", str(stored_checkpoint), "--input-file", str(inp), "--output-file",
            str(tmp_path / "out.jsonl"), "--max-decode-length", "3", "--quiet"]
    try:  # a ConfigError: the CLI prints it on one line and exits 2 (or it propagates)
        rc, message = main([*args, "--vocab", str(char_spm)]), capsys.readouterr().err
    except ConfigError as exc:
        rc, message = 2, str(exc)
    assert rc == 2 and "allow-vocab-mismatch" in message and not (tmp_path / "out.jsonl").exists()
    assert main(args) == 0  # the stored vocabulary by default
    assert json.loads((tmp_path / "out.jsonl").read_text())["id"] == "a"
