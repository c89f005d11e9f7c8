"""Train the demo SentencePiece vocabulary: `python -m snitk.demo.vocab [--task-dir tasks] [--out PATH]`.

A SentencePiece model over the demo corpus text (definitions, examples, explanations, instances) laid
out like the Tk-Instruct prompts, with T5's special ids (pad 0, eos 1, unk 2, no bos), byte fallback
and split digits. Deterministic: one thread, every sentence used, a fixed seed.

Model type BPE, not T5's unigram: with sentencepiece 0.2.x the unigram trainer on this small, highly
repetitive corpus keeps no whole piece for even the most frequent words ("this" -> "th" "is",
"Definition" -> 4 pieces), which wastes a third of every prompt; BPE keeps them whole. Any
SentencePiece model type works the same way through `snitk.vocab` and seqio.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "demo_spm.model"
VOCAB_SIZE = 3000
TRAINED_WITH = "0.2.3"  # sentencepiece version that wrote the shipped model (byte-identical reruns)


def _block(kind: str, i: int, ex: dict, explanation: bool) -> str:
    text = f" {kind} Example {i} - Input: {ex['input']} Output: {ex['output']}"
    return text + (f" Explanation: {ex.get('explanation') or ''}" if explanation else "")


def corpus_lines(task_dir: Path) -> list[str]:
    """One line per instance, shaped like a Tk-Instruct prompt plus its target, in file-name order.

    SentencePiece seeds its pieces from the distinct lines, so the definition and the demonstrations
    are written into every instance's line (as in the prompts the model reads), alternating between
    a def_pos2-like and a def_pos2_neg2_expl-like layout.
    """
    lines: list[str] = []
    for path in sorted(task_dir.glob("*.json")):
        task = json.loads(path.read_text(encoding="utf-8"))
        definition = task["Definition"]
        definition = definition[0] if isinstance(definition, list) and definition else str(definition or "")
        pos, neg = task["Positive Examples"], task["Negative Examples"]
        for j, inst in enumerate(task["Instances"]):
            full = j % 2 == 1
            head = f"Definition: {definition}"
            head += "".join(_block("Positive", i + 1, ex, full) for i, ex in enumerate(pos[: 4 if full else 2]))
            if full:
                head += "".join(_block("Negative", i + 1, ex, True) for i, ex in enumerate(neg[:2]))
            refs = " ".join(inst["output"])
            lines.append(f"{head} Now complete the following example - Input: {inst['input']} Output: {refs}")
    return [" ".join(ln.split()) for ln in lines]


def train(task_dir: Path, out: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    """Train the model on the corpus text and write `out` (the .model file)."""
    import sentencepiece as spm

    spm.set_random_generator_seed(17)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines(task_dir)),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        max_sentence_length=16384,
        minloglevel=2,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(model.getvalue())
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m snitk.demo.vocab", description=__doc__.splitlines()[0])
    p.add_argument("--task-dir", type=Path, default=Path(__file__).resolve().parents[2] / "tasks")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    args = p.parse_args(argv)
    path = train(args.task_dir, args.out, args.vocab_size)
    import sentencepiece as spm

    print(f"wrote {path} ({spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()} pieces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
