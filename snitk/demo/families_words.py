"""Demo task families over word lists: string edits, selection and counting (Program Execution).

All of them are training tasks in the bundled (`categories`) design; in the `--held-out variants` design a
few are held out or development variants (training keeps the first words, the test the last ones, ...).
"""

from __future__ import annotations

import random

from snitk.demo import words as W
from snitk.demo.spec import Spec, custom, listop, words

PE = "Program Execution"


def _words(lo: int = 3, hi: int = 5, pool=W.GENERAL):
    return lambda rng: words(rng, pool, lo, hi)


def _unique_extreme(key):
    def sample(rng: random.Random) -> list[str]:
        while True:
            ws = words(rng, W.GENERAL, 4, 6)
            best = key(ws)
            if sum(len(w) == len(best) for w in ws) == 1:
                return ws

    return sample


def _mixed_lengths(rng: random.Random) -> list[str]:
    while True:
        ws = words(rng, W.GENERAL, 4, 6)
        if any(len(w) > 5 for w in ws) and any(len(w) <= 5 for w in ws):
            return ws


def _some_with_a(rng: random.Random) -> list[str]:
    while True:
        ws = words(rng, W.GENERAL, 4, 6)
        if any("a" in w for w in ws) and any("a" not in w for w in ws):
            return ws


def _longest(ws):
    return max(ws, key=len)


def _shortest(ws):
    return min(ws, key=len)


def word_specs() -> list[Spec]:
    """Word-list string edits and word selection."""
    same = lambda ws: list(ws)  # noqa: E731
    rev = lambda ws: list(reversed(ws))  # noqa: E731
    kw = dict(reasoning=(), family="words")
    ext = dict(reasoning=(), family="words")
    s: list[Spec] = [
        listop("reverse_words", "train",
               "In this task, you are given a sequence of words. Reverse the order of the words.",
               PE, _words(), "space", rev,
               [(same, "The words are in the original order, not reversed."),
                (sorted, "The words are sorted alphabetically instead of reversed.")],
               "The words in reverse order are \"{answer}\".", **kw),
        listop("reverse_word_order_commas", "train",
               "Given a comma-separated list of words, write the words in the opposite order, last word first.",
               PE, _words(), "comma", rev,
               [(same, "The order of the words was not changed."),
                (lambda ws: ws[1:] + ws[:1], "The first word was moved to the end, but the whole list must be reversed.")],
               "Starting from the last word gives \"{answer}\".", **kw),
        listop("words_backwards", "train",
               "Read the given words from right to left and output them in that order.",
               PE, _words(3, 6), "space", rev,
               [(same, "These are the words from left to right."),
                (lambda ws: [w[::-1] for w in ws], "The letters of each word were reversed, not the order of the words.")],
               "From right to left the words are \"{answer}\".", **kw),
        listop("sort_words_alphabetically", "train",
               "In this task, you are given a list of words. Sort the words in alphabetical order.",
               PE, _words(), "space", sorted,
               [(same, "The words were not sorted."),
                (lambda ws: sorted(ws, reverse=True), "The words are sorted from Z to A, but alphabetical order goes from A to Z.")],
               "In alphabetical order the words are \"{answer}\".", **kw),
        listop("alphabetize_words", "train",
               "Arrange the given comma-separated words from A to Z.",
               PE, _words(), "comma", sorted,
               [(rev, "The words were reversed, not arranged from A to Z."), (same, "The order was not changed.")],
               "From A to Z: \"{answer}\".", **kw),
        listop("remove_first_word", "train",
               "Remove the first word of the given sequence of words and output the remaining words.",
               PE, _words(), "space", lambda ws: ws[1:],
               [(lambda ws: ws[:-1], "The last word was removed instead of the first one."), (same, "No word was removed.")],
               "Without its first word the sequence is \"{answer}\".", **kw),
        listop("drop_leading_word", "train",
               "In this task, you are given a list of words separated by commas. Delete the word at the beginning of the list.",
               PE, _words(), "comma", lambda ws: ws[1:],
               [(same, "The first word is still there."), (lambda ws: ws[2:], "Two words were deleted instead of one.")],
               "Deleting the word at the beginning leaves \"{answer}\".", **kw),
        listop("first_two_words", "train",
               "Output only the first two words of the given sequence.",
               PE, _words(), "space", lambda ws: ws[:2],
               [(lambda ws: ws[-2:], "These are the last two words, not the first two."), (lambda ws: ws[:1], "Only one word was given.")],
               "The sequence starts with \"{answer}\".", **kw),
        listop("first_three_words", "train",
               "In this task, you are given several words. Keep the first three words and drop the rest.",
               PE, _words(4, 6), "space", lambda ws: ws[:3],
               [(lambda ws: ws[-3:], "These are the last three words."), (same, "The other words were not dropped.")],
               "The first three words are \"{answer}\".", **kw),
        listop("uppercase_words", "train",
               "Rewrite the given words in capital letters.",
               PE, _words(2, 3), "space", lambda ws: [w.upper() for w in ws],
               [(same, "The words are still in lower case."), (lambda ws: [w.capitalize() for w in ws], "Only the first letters were capitalized.")],
               "In capital letters: \"{answer}\".", **kw),
        listop("capitalize_each_word", "train",
               "Capitalize the first letter of every word in the given list.",
               PE, _words(2, 5), "space", lambda ws: [w.capitalize() for w in ws],
               [(lambda ws: [w.upper() for w in ws], "All letters were capitalized, not only the first ones."), (same, "Nothing was capitalized.")],
               "With capital first letters: \"{answer}\".", **kw),
        listop("duplicate_each_word", "train",
               "Write every word of the input twice in a row.",
               PE, _words(2, 4), "space", lambda ws: [w for w in ws for _ in (0, 1)],
               [(lambda ws: ws + ws, "The whole sequence was repeated, not each word."), (same, "The words were not repeated.")],
               "Each word doubled gives \"{answer}\".", **kw),
        listop("rotate_words_left", "train",
               "Move the first word of the given sequence to the end.",
               PE, _words(), "space", lambda ws: ws[1:] + ws[:1],
               [(rev, "The sequence was reversed instead."), (lambda ws: ws[-1:] + ws[:-1], "The last word was moved to the front instead.")],
               "Moving the first word to the end gives \"{answer}\".", **kw),
        listop("longest_word", "train",
               "In this task, you are given a list of words. Find the longest word in the list.",
               PE, _unique_extreme(_longest), "space", _longest,
               [(_shortest, "This is the shortest word, not the longest one."), (lambda ws: ws[0], "This is the first word, which is not the longest.")],
               "\"{answer}\" has more letters than any other word.", **ext),
        listop("word_with_most_letters", "train",
               "Which of the given comma-separated words has the most letters? Output that word.",
               PE, _unique_extreme(_longest), "comma", _longest,
               [(lambda ws: ws[-1], "This is the last word, which does not have the most letters."), (_shortest, "This word has the fewest letters.")],
               "\"{answer}\" is the longest word.", **ext),
        listop("first_word", "train", "Output the first word of the given text.",
               PE, _words(), "space", lambda ws: ws[0],
               [(lambda ws: ws[-1], "This is the last word."), (lambda ws: ws[1], "This is the second word.")],
               "The text starts with \"{answer}\".", **ext),
        listop("last_word", "train", "In this task, you are given a list of words separated by commas. Return the last word.",
               PE, _words(), "comma", lambda ws: ws[-1],
               [(lambda ws: ws[0], "This is the first word, not the last."), (lambda ws: ws[-2], "This is the second to last word.")],
               "The list ends with \"{answer}\".", **ext),
        listop("count_words", "train", "Count the words in the given text and output the number.",
               PE, _words(2, 8), "space", len,
               [(lambda ws: len(ws) - 1, "The count is one too small."), (lambda ws: sum(map(len, ws)), "This counts letters, not words.")],
               "The text has {answer} words.", **ext),
        custom("count_letters", "train", "Count the letters of the given word.", PE,
               lambda rng: rng.choice(W.GENERAL + W.ANIMALS + W.FRUITS), str, len,
               [(lambda w: len(w) + 1, "The count is one too large."), (lambda w: len(set(w)), "This counts distinct letters only.")],
               "The word has {answer} letters.", **ext),
        custom("count_vowels", "train", "How many vowels (a, e, i, o, u) does the given word contain?", PE,
               lambda rng: rng.choice(W.GENERAL + W.ANIMALS + W.FRUITS), str, lambda w: sum(c in "aeiou" for c in w),
               [(len, "This is the number of letters, not vowels."), (lambda w: sum(c not in "aeiou" for c in w), "This counts the consonants.")],
               "The word contains {answer} vowels.", **ext),
        custom("reverse_letters", "train", "Spell the given word backwards.", PE,
               lambda rng: rng.choice(W.GENERAL + W.ANIMALS + W.FRUITS), str, lambda w: w[::-1],
               [(lambda w: w, "The word was not reversed."), (lambda w: w[1:] + w[0], "The first letter was moved to the end instead.")],
               "Backwards the word reads \"{answer}\".", **ext),
        custom("spell_word", "train", "Write the letters of the given word separated by spaces.", PE,
               lambda rng: rng.choice(W.GENERAL + W.ANIMALS + W.FRUITS), str, lambda w: " ".join(w),
               [(lambda w: w, "The letters are not separated."), (lambda w: " ".join(w[::-1]), "The letters are in reverse order.")],
               "Spelled out: \"{answer}\".", **ext),
        listop("acronym", "train", "Form an acronym from the given words: output the first letter of each word in capitals, without spaces.",
               PE, _words(2, 5), "space", lambda ws: "".join(w[0].upper() for w in ws),
               [(lambda ws: "".join(w[-1].upper() for w in ws), "These are the last letters of the words."),
                (lambda ws: " ".join(w[0].upper() for w in ws), "The letters must not be separated by spaces.")],
               "The first letters are {answer}.", **ext),
        listop("join_with_hyphens", "train", "Join the given words with hyphens (-) instead of spaces.",
               PE, _words(2, 5), "space", lambda ws: "-".join(ws),
               [(lambda ws: "".join(ws), "The words were joined without hyphens."), (lambda ws: "-".join(reversed(ws)), "The words are in the wrong order.")],
               "With hyphens: \"{answer}\".", **ext),
        listop("copy_words", "train", "Copy the given words exactly.",
               PE, _words(), "space", same,
               [(rev, "The words are reversed; they must be copied in the same order."),
                (lambda ws: ws[:-1], "The last word is missing.")],
               "The copy is \"{answer}\".", **kw),
        listop("repeat_comma_list", "train", "In this task, you are given a comma-separated list of words. Write the list again, unchanged.",
               PE, _words(), "comma", same,
               [(lambda ws: ws[1:] + ws[:1], "The order of the words was changed."),
                (lambda ws: ws[1:], "The first word is missing.")],
               "The unchanged list is \"{answer}\".", **kw),
        custom("commas_to_spaces", "train", "Rewrite the given comma-separated words separated by spaces only.",
               PE, _words(), ", ".join, " ".join,
               [(", ".join, "The commas are still there."), (lambda ws: " ".join(sorted(ws)), "The words were reordered.")],
               "Separated by spaces: \"{answer}\".", **kw),
        listop("reverse_sentence_words", "train",
               "Rewrite the given words in reverse order, starting with the last one.",
               PE, _words(3, 5), "space", rev,
               [(same, "The words were not reordered."), (lambda ws: ws[-1:] + ws[:-1], "Only the last word was moved to the front.")],
               "Starting with the last word: \"{answer}\".", **kw),
        listop("first_word_of_list", "train",
               "In this task, you are given a comma-separated list of words. Output the first word of the list.",
               PE, _words(), "comma", lambda ws: ws[0],
               [(lambda ws: ws[-1], "This is the last word of the list."), (lambda ws: ws[1], "This is the second word.")],
               "The list starts with \"{answer}\".", **ext),
        listop("final_word", "train", "What is the last word of the given text? Output it.",
               PE, _words(), "space", lambda ws: ws[-1],
               [(lambda ws: ws[0], "This is the first word."), (lambda ws: ws[-2], "This is the word before the last one.")],
               "The text ends with \"{answer}\".", **ext),
        listop("second_word", "train", "Output the second word of the given sequence.",
               PE, _words(), "space", lambda ws: ws[1],
               [(lambda ws: ws[0], "This is the first word, not the second."), (lambda ws: ws[2], "This is the third word.")],
               "The second word is \"{answer}\".", **ext),
        listop("first_and_last_word", "train", "Output the first word and the last word of the given sequence, in that order.",
               PE, _words(), "space", lambda ws: [ws[0], ws[-1]],
               [(lambda ws: [ws[-1], ws[0]], "The two words are in the wrong order."), (lambda ws: ws[:2], "These are the first two words.")],
               "The sequence starts with the first word and ends with the second: \"{answer}\".", **kw),
        listop("words_longer_than_five", "train",
               "Output the words that have more than five letters, keeping their order.",
               PE, _mixed_lengths, "space", lambda ws: [w for w in ws if len(w) > 5],
               [(lambda ws: [w for w in ws if len(w) <= 5], "These words have five letters or fewer."),
                (same, "Short words were not removed.")],
               "Only \"{answer}\" have more than five letters.", **kw),
        listop("drop_words_with_a", "train", "Remove every word that contains the letter \"a\" and output the other words.",
               PE, _some_with_a, "space", lambda ws: [w for w in ws if "a" not in w],
               [(lambda ws: [w for w in ws if "a" in w], "These are exactly the words that had to be removed."),
                (same, "No word was removed.")],
               "The words without an \"a\" are \"{answer}\".", **kw),
        # ---- held-out variants
        listop("shortest_word", "test",
               "In this task, you are given a list of words. Find the shortest word in the list.",
               PE, _unique_extreme(_shortest), "space", _shortest,
               [(_longest, "This is the longest word, not the shortest one."), (lambda ws: ws[0], "This is the first word, which is not the shortest.")],
               "\"{answer}\" has fewer letters than any other word.", **ext),
        listop("remove_last_word", "test",
               "Remove the last word of the given sequence of words and output the remaining words.",
               PE, _words(), "space", lambda ws: ws[:-1],
               [(lambda ws: ws[1:], "The first word was removed instead of the last one."), (same, "No word was removed.")],
               "Without its last word the sequence is \"{answer}\".", **kw),
        listop("last_two_words", "test",
               "Output only the last two words of the given sequence.",
               PE, _words(), "space", lambda ws: ws[-2:],
               [(lambda ws: ws[:2], "These are the first two words, not the last two."), (lambda ws: ws[-1:], "Only one word was given.")],
               "The sequence ends with \"{answer}\".", **kw),
        listop("swap_first_and_last_word", "test",
               "Swap the first and the last word of the given sequence; the words in between stay where they are.",
               PE, _words(), "space", lambda ws: ws[-1:] + ws[1:-1] + ws[:1],
               [(rev, "The whole sequence was reversed; only the first and the last word should change places."),
                (same, "No words were swapped.")],
               "After swapping the first and the last word: \"{answer}\".", **kw),
        listop("every_other_word", "test",
               "Given a sequence of words, output the 1st, 3rd, 5th, ... words, i.e. every other word starting with the first one.",
               PE, _words(4, 6), "space", lambda ws: ws[::2],
               [(lambda ws: ws[1::2], "These are the 2nd, 4th, ... words; the output must start with the first word."),
                (same, "No word was skipped.")],
               "Taking every other word from the start gives \"{answer}\".", **kw),
        # ---- development variants (for choosing the demo's settings; never trained on, never reported as test)
        listop("last_three_words", "dev", "In this task, you are given several words. Keep the last three words and drop the rest.",
               PE, _words(4, 6), "space", lambda ws: ws[-3:],
               [(lambda ws: ws[:3], "These are the first three words, not the last three."), (same, "No word was dropped.")],
               "The last three words are \"{answer}\".", **kw),
        listop("third_word", "dev", "Output the third word of the given sequence.",
               PE, _words(), "space", lambda ws: ws[2],
               [(lambda ws: ws[1], "This is the second word, not the third one."), (lambda ws: ws[0], "This is the first word.")],
               "The third word is \"{answer}\".", **kw),
        listop("rotate_words_right", "dev", "Move the last word of the given sequence to the front.",
               PE, _words(), "space", lambda ws: ws[-1:] + ws[:-1],
               [(lambda ws: ws[1:] + ws[:1], "The first word was moved to the end instead."), (same, "No word was moved.")],
               "With the last word in front: \"{answer}\".", **kw),
    ]
    return s
