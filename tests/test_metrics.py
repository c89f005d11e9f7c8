"""Official SNI metrics on hand-made cases; agreement with rouge-score computed directly."""

from __future__ import annotations

import random

import pytest

from snitk.errors import ConfigError
from snitk.eval import metrics as M


@pytest.fixture(scope="module")
def bpe() -> str:
    from snitk.eval.tokenizers import SHIPPED_RANKS

    return str(SHIPPED_RANKS)


def test_normalize_answer_keeps_articles_drops_ascii_punctuation():
    assert M.normalize_answer("  The Cat,   sat!\n") == "the cat sat"
    assert M.normalize_answer("A dog's bone.") == "a dogs bone"
    # only ASCII punctuation is removed
    assert M.normalize_answer("¿Qué?") == "¿qué"


def test_exact_match_and_multiple_references():
    assert M.exact_match("Yes.", "yes") == 1.0
    assert M.exact_match("the answer", "answer") == 0.0
    out = M.compute_metrics(["Yes", "maybe", "B"], [["no", "YES!"], ["no"], ["A", "b"]])
    assert out["exact_match"] == round(100 * 2 / 3, 4) == 66.6667
    assert out["n"] == 3


def test_stemming_on_default_track():
    # stems: the cat were run / the cat wa run -> LCS 3 of 4 tokens each
    assert M.rougeL("The cats were running", "the cat was running") == pytest.approx(0.75)
    assert M.rouge1("The cats were running", "the cat was running") == pytest.approx(0.75)
    # without the stemmer only "the" and "running" would match
    assert M.rougeL("cats", "cat") == 1.0


def test_punctuation_and_case_ignored_by_default_tokenizer():
    assert M.rouge1("Hello, World!", "hello world") == 1.0
    assert M.rougeL("", "hello") == 0.0
    assert M.rouge1("hello", "") == 0.0


def test_rouge_max_over_references_and_micro_average():
    out = M.compute_metrics(
        ["a b c d", "x y"],
        [["a b", "a b c d e"], ["z"]],
    )
    # instance 1: best ref "a b c d e": P=1, R=0.8 -> F=8/9; instance 2: 0
    expected = round(100.0 * (2 * 0.8 / 1.8) / 2, 4)
    assert out["rougeL"] == expected
    assert out["rouge1"] == expected


def test_lcs_matches_dynamic_programming():
    rng = random.Random(1)
    for _ in range(300):
        a = rng.choices("abcde", k=rng.randint(0, 40))
        b = rng.choices("abcdef", k=rng.randint(0, 40))
        dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                dp[i][j] = dp[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(dp[i - 1][j], dp[i][j - 1])
        assert M.lcs_length(a, b) == dp[-1][-1]


def test_agrees_with_rouge_score_per_pair():
    from rouge_score import rouge_scorer

    rng = random.Random(0)
    words = "The cats running ran runs dog dogs quickly quick, jumped jump. over lazy Apple apples 42 a an é".split()
    preds, refs = [], []
    for _ in range(400):
        preds.append(" ".join(rng.choices(words, k=rng.randint(0, 25))))
        refs.append([" ".join(rng.choices(words, k=rng.randint(1, 25))) for _ in range(rng.randint(1, 3))])
    sc = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    em = r1 = rl = 0.0
    for p, rs in zip(preds, refs):
        scores = [sc.score(target=r, prediction=p) for r in rs]
        em += max(M.normalize_answer(p) == M.normalize_answer(r) for r in rs)
        r1 += max(s["rouge1"].fmeasure for s in scores)
        rl += max(s["rougeL"].fmeasure for s in scores)
    out = M.compute_metrics(preds, refs, num_workers=1)
    n = len(preds)
    assert out == {"exact_match": round(100 * em / n, 4), "rouge1": round(100 * r1 / n, 4), "rougeL": round(100 * rl / n, 4), "n": n}


def test_parallel_scoring_equals_serial():
    rng = random.Random(2)
    words = "alpha beta gamma delta running runner ran".split()
    preds = [" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(600)]
    refs = [[" ".join(rng.choices(words, k=rng.randint(1, 12)))] for _ in range(600)]
    assert M.score_instances(preds, refs, num_workers=2) == M.score_instances(preds, refs, num_workers=1)


def test_xlingual_scores_non_latin_text(bpe):
    zh_pred, zh_ref = "我喜欢猫", "我喜欢狗和猫"
    # the default tokenizer keeps only a-z0-9: non-Latin text cannot score
    assert M.rougeL(zh_pred, zh_ref) == 0.0
    x = M.rougeL(zh_pred, zh_ref, xlingual=True, gpt2_bpe=bpe)
    assert 0.0 < x < 1.0
    assert M.rougeL(zh_ref, zh_ref, xlingual=True, gpt2_bpe=bpe) == 1.0
    out = M.compute_metrics(["Привет мир"], [["привет мир", "Привет мир!"]], xlingual=True, gpt2_bpe=bpe)
    assert out["exact_match"] == 100.0 and 0 < out["rougeL"] <= 100.0


def test_xlingual_is_case_sensitive_and_unstemmed(bpe):
    assert M.rougeL("Hello world", "hello world") == 1.0
    assert M.rougeL("Hello world", "hello world", xlingual=True, gpt2_bpe=bpe) == pytest.approx(0.5)
    assert M.rougeL("cats", "cat", xlingual=True, gpt2_bpe=bpe) < 1.0


def test_gpt2_tokens_known_by_hand(bpe):
    from snitk.eval.tokenizers import GPT2Tokenizer

    tok = GPT2Tokenizer(bpe)
    # GPT-2 ids 15496 "Hello", 995 " world" -> token strings "Hello", "Ġworld"
    assert tok.token_strings("Hello world") == ["Hello", "Ġworld"]
    assert tok.tokenize("Hello world") == ["Hello", "world"]
    # a double space leaves a bare "Ġ" token, stripped to "" (kept, as in the official code)
    assert tok.tokenize("a  b") == ["a", "", "b"]
    # byte-level: "é" is two bytes -> "Ã©" in the byte-to-unicode alphabet
    assert "".join(tok.token_strings("é")) == "Ã©"


def test_gpt2_tokens_identical_to_hf(bpe):
    """Build HF's GPT2Tokenizer from vocab + merges derived from the .tiktoken ranks; compare tokens."""
    transformers = pytest.importorskip("transformers")
    from tiktoken.load import load_tiktoken_bpe

    from snitk.eval.tokenizers import GPT2Tokenizer, bytes_to_unicode

    ranks = load_tiktoken_bpe(bpe)
    b2u = bytes_to_unicode()

    def s(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    def split(token: bytes, rank: int) -> tuple[bytes, bytes]:
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:
            best = min(
                (r, i) for i in range(len(parts) - 1)
                if (r := ranks.get(parts[i] + parts[i + 1])) is not None and r < rank
            )
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        return parts[0], parts[1]

    merges = [tuple(map(s, split(t, r))) for t, r in sorted(ranks.items(), key=lambda kv: kv[1]) if len(t) > 1]
    vocab = {s(t): r for t, r in ranks.items()}
    vocab["<|endoftext|>"] = 50256
    hf = transformers.GPT2Tokenizer(vocab=vocab, merges=merges)
    ours = GPT2Tokenizer(bpe)
    texts = [
        "Hello world!  It's 2024, isn't it?\n\nYes.",
        "Привет, как дела?",
        "日本語のテキストです。",
        "  leading spaces and trailing   ",
        "emoji 😀👍 mixed العربية हिन्दी",
        "tab\tsep\r\nline 3.14159 don't we'll",
    ]
    for text in texts:
        assert ours.token_strings(text) == hf.tokenize(text), text


def test_missing_gpt2_ranks_is_a_clear_error(tmp_path):
    from snitk.eval.tokenizers import GPT2Tokenizer

    with pytest.raises(ConfigError, match="gpt2"):
        GPT2Tokenizer(tmp_path / "nope.tiktoken")


def test_score_report_categories_and_task_rename():
    preds = ["yes", "no", "A nice title", "x"]
    refs = [["yes"], ["yes"], ["a nice title here"], ["y"]]
    tasks = ["t1", "t1", "task121_atomic_question_rewriting", "t3"]
    cats = ["Textual Entailment", "Textual Entailment", "Question Rewriting", "Some Other"]
    rep = M.score_report(preds, refs, tasks, cats, num_workers=1)
    assert rep["overall"]["n"] == 4
    assert rep["per_category"]["Textual Entailment"]["metric"] == "exact_match"
    assert rep["per_category"]["Textual Entailment"]["exact_match"] == 50.0
    assert rep["per_category"]["Question Rewriting"]["metric"] == "rougeL"
    assert "task121_zest_question_rewriting" in rep["per_task"]
    assert "task121_atomic_question_rewriting" not in rep["per_task"]
    assert rep["per_task"]["t1"]["category"] == "Textual Entailment"


def test_default_tokens_identical_to_rouge_score_tokenizer():
    from rouge_score import tokenizers

    ref = tokenizers.DefaultTokenizer(use_stemmer=True)
    ours = M.DefaultTokenizer()
    rng = random.Random(3)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEZ0123456789 ,.;'-!?\n\téüßİ日本") + ["ing ", "ed ", "ies ", "ness "]
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 60))) for _ in range(500)]
    texts += ["Running generously, the happiness of studies!", "İstanbul ßtraße", "ＡＢＣ full-width", ""]
    for text in texts:
        assert ours.tokenize(text) == ref.tokenize(text), text


def test_xlingual_agrees_with_rouge_score_using_gpt2_tokens(bpe):
    """The official xlingual scorer is RougeScorer(['rougeL'], tokenizer=<GPT-2 tokens, Ġ stripped>)."""
    from rouge_score import rouge_scorer

    from snitk.eval.tokenizers import GPT2Tokenizer

    tok = GPT2Tokenizer(bpe)
    sc = rouge_scorer.RougeScorer(["rouge1", "rougeL"], tokenizer=tok)
    rng = random.Random(5)
    words = ["猫", "喜欢", "我", "Hund", "der", "Die", "и", "кошка", "  ", "!", "été", "नमस्ते", "the", "The"]
    preds = ["".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(200)]
    refs = [["".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 2))] for _ in range(200)]
    r1 = rl = 0.0
    for p, rs in zip(preds, refs):
        scores = [sc.score(target=r, prediction=p) for r in rs]
        r1 += max(s["rouge1"].fmeasure for s in scores)
        rl += max(s["rougeL"].fmeasure for s in scores)
    out = M.compute_metrics(preds, refs, xlingual=True, gpt2_bpe=bpe, num_workers=1)
    assert out["rouge1"] == round(100 * r1 / 200, 4)
    assert out["rougeL"] == round(100 * rl / 200, 4)


def test_offline_xlingual_metric_uses_the_shipped_ranks(monkeypatch):
    import tiktoken
    import tiktoken.load

    from snitk.eval.tokenizers import ENV_VAR

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    monkeypatch.setattr(tiktoken.load, "read_file", offline)
    out = M.compute_metrics(["Привет мир"], [["Привет мир!"]], xlingual=True, num_workers=1)
    assert 0 < out["rougeL"] < 100
