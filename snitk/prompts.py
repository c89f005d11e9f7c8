"""Instruction encodings of the Super-NaturalInstructions paper, in the exact Tk-Instruct text format.

The text reproduces the Tk-Instruct data collator (yizhongw/Tk-Instruct, ``src/ni_collator.py``):

    [<task name>. ]Definition: <Definition[0]>.\\n\\n
     Positive Example 1 -\\nInput: <input>.\\n Output: <output>.\\n[ Explanation: <expl>.\\n]\\n
     ...
     Negative Example 1 -\\nInput: ...\\n
    Now complete the following example -\\nInput: <instance input>.\\nOutput: 

Every piece is ``.strip()``-ed and gets a "." appended when its last character is not ASCII
punctuation (``string.punctuation``), so "。" or "…" endings get a "." while "?" does not.

Untruncated by default. With ``token_budget`` and ``vocab`` examples are added greedily while the
text (plus EOS) fits, exactly as the collator does, and an over-long result is cut to the budget:
``truncation="official"`` decodes the first ``token_budget`` tokens (which usually loses the
``Output:`` cue), ``truncation="keep-tail"`` shortens only the instance input so that the text
still ends with ``"Output: "``.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Protocol

from snitk.errors import ConfigError

__all__ = ["Encoding", "ENCODINGS", "TK_MIX_CHOICES", "get_encoding", "render", "render_example", "choose_encoding"]


class _Vocab(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Any) -> str: ...


@dataclass(frozen=True)
class Encoding:
    """Which parts of the instruction go into the prompt (`mix`: a per-instance choice among encodings)."""

    name: str
    add_task_name: bool = False
    add_definition: bool = True
    num_pos: int = 0
    num_neg: int = 0
    add_explanation: bool = False
    mix: tuple[str, ...] = ()


TK_MIX_CHOICES: tuple[str, ...] = ("def", "pos2", "def_pos2", "def_pos2_neg2", "def_pos2_expl")

ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in (
        Encoding("instance_only", add_definition=False),  # no instruction at all: the ablation floor
        Encoding("task_name", add_task_name=True, add_definition=False),
        Encoding("def"),
        Encoding("pos1", add_definition=False, num_pos=1),
        Encoding("pos2", add_definition=False, num_pos=2),
        Encoding("pos4", add_definition=False, num_pos=4),
        Encoding("def_pos1", num_pos=1),
        Encoding("def_pos2", num_pos=2),
        Encoding("def_pos4", num_pos=4),
        Encoding("def_pos2_neg2", num_pos=2, num_neg=2),
        Encoding("def_pos2_expl", num_pos=2, add_explanation=True),
        Encoding("def_pos2_neg2_expl", num_pos=2, num_neg=2, add_explanation=True),
        Encoding("tk_mix", mix=TK_MIX_CHOICES),
    )
}

TRUNCATIONS = ("official", "keep-tail")


def get_encoding(name: "str | Encoding") -> Encoding:
    """The encoding called `name` (an Encoding passes through); ConfigError lists the known names."""
    if isinstance(name, Encoding):
        return name
    try:
        return ENCODINGS[name]
    except KeyError:
        raise ConfigError(f"unknown encoding {name!r}; expected one of: {', '.join(ENCODINGS)}") from None


def choose_encoding(encoding: "str | Encoding", task_name: str, instance_id: str, seed: int = 0) -> Encoding:
    """Resolve a mix encoding (tk_mix) to the concrete one used for this instance (seeded, stable)."""
    enc = get_encoding(encoding)
    if not enc.mix:
        return enc
    rng = random.Random(f"{seed}:{task_name}:{instance_id}")
    return get_encoding(rng.choice(enc.mix))


def _punct(text: str) -> str:
    """Append "." unless the text ends in ASCII punctuation (the collator checks the whole piece so far)."""
    return text if text and text[-1] in string.punctuation else text + "."


def _query(instance_input: str) -> str:
    return _punct("Now complete the following example -\n" + f"Input: {instance_input.strip()}") + "\nOutput: "


def _example_block(kind: str, idx: int, ex: Any, add_explanation: bool) -> str:
    s = _punct(f" {kind} Example {idx} -\n" + f"Input: {ex.input.strip()}") + "\n"
    s = _punct(s + f" Output: {ex.output.strip()}") + "\n"
    if add_explanation and ex.explanation is not None:
        s = _punct(s + f" Explanation: {ex.explanation.strip()}") + "\n"
    return s + "\n"


def _definition(task: Any) -> str:
    return _punct("Definition: " + task.definition.strip()) + "\n\n"


def _num_tokens(vocab: _Vocab, text: str) -> int:
    return len(vocab.encode(text)) + 1  # + EOS, as the HF tokenizer counts it


def leading_ids(vocab: _Vocab, text: str, n: int) -> list[int]:
    """``vocab.encode(text)[:n]`` with work proportional to `n`, not to ``len(text)``.

    A prefix of ``8 * (n + 16)`` characters is tokenized, then a prefix twice as long; when both give
    more than `n` ids and agree on the first `n`, those are the ids of the whole text (cutting a text
    only changes the tokens near the cut). Otherwise the prefix doubles until they agree or the text is
    whole, so the result is always ``encode(text)[:n]``, byte for byte.
    """
    size = 8 * (n + 16)
    if len(text) <= size:
        return vocab.encode(text)[:n]
    ids = vocab.encode(text[:size])
    while 2 * size < len(text):
        more = vocab.encode(text[: 2 * size])
        if len(ids) > n + 8 and more[:n] == ids[:n]:
            return ids[:n]
        size, ids = 2 * size, more
    return vocab.encode(text)[:n]


def render(
    task: Any,
    instance: Any,
    encoding: "str | Encoding" = "def_pos2",
    *,
    token_budget: int | None = None,
    vocab: _Vocab | None = None,
    truncation: str = "official",
    seed: int = 0,
) -> str:
    """The model input text for `instance` of `task` under `encoding` (see the module docstring)."""
    enc = choose_encoding(encoding, task.name, instance.id, seed)
    if truncation not in TRUNCATIONS:
        raise ConfigError(f"unknown truncation {truncation!r}; expected one of: {', '.join(TRUNCATIONS)}")
    if token_budget is not None and vocab is None:
        raise ConfigError("render(token_budget=...) needs a vocabulary (vocab=...) to count tokens")
    budget = token_budget if vocab is not None else None

    query = _query(instance.input)
    name = f"{task.name}. " if enc.add_task_name else ""
    definition = _definition(task) if enc.add_definition else ""

    def fits(text: str) -> bool:  # bounded by the budget, however long the instance input is
        return budget is None or len(leading_ids(vocab, text, budget)) + 1 <= budget  # type: ignore[arg-type]

    # The collator's greedy fit checks join the examples with " " (but the result joins them with
    # "") and leave the task name out; reproduced as is so that the choice of examples matches.
    pos: list[str] = []
    for i, ex in enumerate(task.positive_examples[: enc.num_pos]):
        block = _example_block("Positive", i + 1, ex, enc.add_explanation)
        if not fits(definition + " ".join(pos) + block + query):
            break
        pos.append(block)
    neg: list[str] = []
    for i, ex in enumerate(task.negative_examples[: enc.num_neg]):
        block = _example_block("Negative", i + 1, ex, enc.add_explanation)
        if not fits(definition + " ".join(pos) + " ".join(neg) + block + query):
            break
        neg.append(block)

    head = name + definition + "".join(pos) + "".join(neg)
    source = head + query
    if budget is None or fits(source):
        return source
    assert vocab is not None
    if truncation == "official":
        return vocab.decode((leading_ids(vocab, source, budget) + [1])[:budget])
    return _keep_tail(vocab, budget, head, instance.input.strip())


def _keep_tail(vocab: _Vocab, budget: int, head: str, inp: str) -> str:
    """Shorten the instance input (then, if needed, the head) so the text ends with the Output cue."""
    lead = "Now complete the following example -\nInput: "
    fixed = len(leading_ids(vocab, head + _query(""), budget)) + 1
    if fixed > budget:
        # Even without the instance input the prefix is too long: cut the head (ending it with a
        # blank line, as a complete head would), keep the query cue.
        cue_tokens = _num_tokens(vocab, "\n\n" + _query(""))
        head_ids = leading_ids(vocab, head, budget)
        keep = max(budget - cue_tokens, 0)
        while True:
            cut = vocab.decode(head_ids[:keep]).rstrip()
            text = (cut + "\n\n" if cut else "") + _query("")
            if keep == 0 or _num_tokens(vocab, text) <= budget:
                return text
            keep -= 1
    ids = leading_ids(vocab, inp, budget)
    keep = max(budget - fixed, 0)
    while True:
        text = head + _punct(lead + vocab.decode(ids[:keep]).strip()) + "\nOutput: "
        if keep == 0 or _num_tokens(vocab, text) <= budget:
            return text
        keep -= max(1, (_num_tokens(vocab, text) - budget) // 2)
        keep = max(keep, 0)


def render_example(task: Any, instance: Any, encoding: "str | Encoding" = "def_pos2", **kw: Any) -> dict[str, Any]:
    """`{"task", "id", "inputs", "targets"}` for one instance; `targets` lists every reference."""
    return {
        "task": task.name,
        "id": instance.id,
        "inputs": render(task, instance, encoding, **kw),
        "targets": list(instance.output),
    }
