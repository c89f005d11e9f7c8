"""Non-English demo tasks (Spanish, French, German, Chinese, Russian) for the cross-lingual track.

Definitions, inputs, outputs and explanations are in the task's language (numbers are shared).
Each language has two training tasks and one held-out task.
"""

from __future__ import annotations

from snitk.demo import words as W
from snitk.demo.spec import Spec, listop, numbers, words

PE = "Program Execution"

# (slug, split, op name, definition, positive explanation, negative explanations (unchanged, other))
TEXTS: dict[str, list[tuple[str, str, str, str, str, tuple[str, str]]]] = {
    "Spanish": [
        ("reverse_words_es", "train", "reverse", "En esta tarea, se te da una secuencia de palabras. Invierte el orden de las palabras.",
         "Las palabras en orden inverso son \"{answer}\".", ("Las palabras siguen en el orden original.", "Solo se movió la primera palabra.")),
        ("sort_numbers_es", "train", "asc", "Ordena los números de la lista de menor a mayor.",
         "De menor a mayor, los números son {answer}.", ("La lista no está ordenada.", "Los números están ordenados de mayor a menor.")),
        ("last_word_es", "test", "last", "En esta tarea, se te da una secuencia de palabras. Escribe la última palabra.",
         "La secuencia termina con \"{answer}\".", ("Esa es la primera palabra, no la última.", "Esa es la penúltima palabra.")),
    ],
    "French": [
        ("reverse_words_fr", "train", "reverse", "Dans cette tâche, on te donne une suite de mots. Inverse l'ordre des mots.",
         "Les mots dans l'ordre inverse sont « {answer} ».", ("Les mots sont dans l'ordre d'origine.", "Seul le premier mot a été déplacé.")),
        ("first_word_fr", "train", "first", "Écris le premier mot de la suite de mots donnée.",
         "La suite commence par « {answer} ».", ("C'est le dernier mot, pas le premier.", "C'est le deuxième mot.")),
        ("remove_first_word_fr", "test", "drop_first", "Supprime le premier mot de la suite donnée et écris les mots restants.",
         "Sans son premier mot, la suite est « {answer} ».", ("Aucun mot n'a été supprimé.", "Le dernier mot a été supprimé au lieu du premier.")),
    ],
    "German": [
        ("reverse_words_de", "train", "reverse", "In dieser Aufgabe bekommst du eine Folge von Wörtern. Kehre die Reihenfolge der Wörter um.",
         "Die Wörter in umgekehrter Reihenfolge sind \"{answer}\".", ("Die Reihenfolge wurde nicht geändert.", "Nur das erste Wort wurde verschoben.")),
        ("largest_number_de", "train", "max", "Gib die größte Zahl der gegebenen Liste aus.",
         "{answer} ist größer als alle anderen Zahlen.", ("Das ist die kleinste Zahl.", "Das ist nur die erste Zahl der Liste.")),
        ("smallest_number_de", "test", "min", "Gib die kleinste Zahl der gegebenen Liste aus.",
         "{answer} ist kleiner als alle anderen Zahlen.", ("Das ist die größte Zahl.", "Das ist nur die erste Zahl der Liste.")),
    ],
    "Chinese": [
        ("reverse_words_zh", "train", "reverse", "在这个任务中，你会得到一串词语。请把词语的顺序反过来。",
         "倒序后的词语是“{answer}”。", ("词语的顺序没有改变。", "只移动了第一个词语。")),
        ("first_word_zh", "train", "first", "请写出给定词语序列中的第一个词语。",
         "序列以“{answer}”开头。", ("这是最后一个词语，不是第一个。", "这是第二个词语。")),
        ("last_two_words_zh", "test", "last2", "请只写出给定词语序列中的最后两个词语。",
         "序列以“{answer}”结尾。", ("这是前两个词语，不是最后两个。", "只写了一个词语。")),
    ],
    "Russian": [
        ("reverse_words_ru", "train", "reverse", "В этом задании дана последовательность слов. Запиши слова в обратном порядке.",
         "Слова в обратном порядке: «{answer}».", ("Порядок слов не изменён.", "Перемещено только первое слово.")),
        ("last_word_ru", "train", "last", "Напиши последнее слово данной последовательности.",
         "Последовательность заканчивается словом «{answer}».", ("Это первое слово, а не последнее.", "Это предпоследнее слово.")),
        ("first_two_words_ru", "test", "first2", "Напиши только первые два слова данной последовательности.",
         "Последовательность начинается с «{answer}».", ("Это последние два слова, а не первые.", "Написано только одно слово.")),
    ],
}

# op name -> (operation, first wrong answer, second wrong answer, input kind)
OPS = {
    "reverse": (lambda ws: list(reversed(ws)), lambda ws: list(ws), lambda ws: ws[1:] + ws[:1], "words"),
    "asc": (sorted, lambda xs: list(xs), lambda xs: sorted(xs, reverse=True), "numbers"),
    "last": (lambda ws: ws[-1], lambda ws: ws[0], lambda ws: ws[-2], "words"),
    "first": (lambda ws: ws[0], lambda ws: ws[-1], lambda ws: ws[1], "words"),
    "drop_first": (lambda ws: ws[1:], lambda ws: list(ws), lambda ws: ws[:-1], "words"),
    "max": (max, min, lambda xs: xs[0], "numbers"),
    "min": (min, max, lambda xs: xs[0], "numbers"),
    "last2": (lambda ws: ws[-2:], lambda ws: ws[:2], lambda ws: ws[-1:], "words"),
    "first2": (lambda ws: ws[:2], lambda ws: ws[-2:], lambda ws: ws[:1], "words"),
}


def xlingual_specs() -> list[Spec]:
    """All non-English demo tasks."""
    specs: list[Spec] = []
    for language, rows in TEXTS.items():
        pool = W.LANGUAGE_WORDS[language]
        for slug, split, op_name, definition, explain, (neg1, neg2) in rows:
            op, wrong1, wrong2, kind = OPS[op_name]
            if kind == "words":
                sample = lambda rng, pool=pool: words(rng, pool, 4, 6)  # noqa: E731
                style = "space"
            else:
                sample = lambda rng: numbers(rng, 4, 6)  # noqa: E731
                style = "comma"
            specs.append(listop(slug, split, definition, PE, sample, style, op, [(wrong1, neg1), (wrong2, neg2)], explain,
                                language=language, family="xlingual",
                                domains=("Mathematics",) if kind == "numbers" else ("Miscellaneous",)))
    return specs
