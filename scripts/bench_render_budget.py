"""Prompt rendering with a token budget: bounded tokenization vs tokenizing every candidate text whole.

    python scripts/bench_render_budget.py [--chars 7000000] [--budget 256]

One instance whose input has `--chars` characters (words), rendered with def_pos2 and the official
truncation. The baseline is the same `snitk.prompts.render` with `leading_ids` replaced by a whole-text
`encode` (the behaviour before the bound); the outputs must be identical.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from snitk import prompts
from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError
from snitk.vocab import get_vocabulary


def main() -> None:
    p = script_parser(__doc__)
    p.add_argument("--chars", type=int, default=7_000_000)
    p.add_argument("--budget", type=int, default=256)
    args = p.parse_args()
    if args.chars < 1 or args.budget < 1:
        raise ConfigError(f"--chars {args.chars} --budget {args.budget}: expected positive counts")
    vocab = get_vocabulary()
    words, n = [], 0
    while n < args.chars:
        words.append(f"word{len(words) % 97}")
        n += len(words[-1]) + 1
    ex = SimpleNamespace(input="demo in", output="demo out", explanation=None)
    task = SimpleNamespace(name="task_huge", definition="Copy the input.", positive_examples=(ex, ex), negative_examples=())
    inst = SimpleNamespace(id="1", input=" ".join(words))

    def timed():
        t = time.perf_counter()
        out = prompts.render(task, inst, "def_pos2", token_budget=args.budget, vocab=vocab)
        return out, time.perf_counter() - t

    bounded, t_bounded = timed()
    whole = prompts.leading_ids
    prompts.leading_ids = lambda v, text, k: v.encode(text)[:k]
    try:
        baseline, t_whole = timed()
    finally:
        prompts.leading_ids = whole
    assert bounded == baseline, "bounded rendering changed the text"
    print(f"input {len(inst.input):,} chars, budget {args.budget}: whole-text {t_whole:.3f} s, "
          f"bounded {t_bounded:.3f} s, ratio {t_whole / t_bounded:.0f}x (identical output)")


if __name__ == "__main__":
    run_script(main, "bench_render_budget.py")
