"""Demo task families over number lists: list operations and arithmetic (word lists: `families_words`).

In the `--held-out variants` design, held-out ("test") tasks are new variants of skills that training
covers: training sorts ascending, the test sorts descending; training picks the largest number, the test
the smallest; and so on. In the bundled (`categories`) design all of them are training tasks.
"""

from __future__ import annotations

import random

from snitk.demo.spec import Spec, custom, listop, numbers

PE = "Program Execution"
MATH = "Mathematics"
NUM_DOMAINS = ("Mathematics",)


def _nums(lo: int = 3, hi: int = 5, top: int = 99):
    return lambda rng: numbers(rng, lo, hi, top)




def _with_parity(rng: random.Random) -> list[int]:
    while True:
        xs = numbers(rng, 4, 6)
        if any(x % 2 for x in xs) and any(x % 2 == 0 for x in xs):
            return xs


def _with_threshold(t: int):
    def sample(rng: random.Random) -> list[int]:
        while True:
            xs = numbers(rng, 4, 6)
            if any(x > t for x in xs) and any(x <= t for x in xs):
                return xs

    return sample


def _with_duplicates(rng: random.Random) -> list[int]:
    xs = numbers(rng, 4, 5)
    dup = rng.sample(xs, rng.randint(1, 2))
    out = xs + dup
    rng.shuffle(out)
    return out


def _with_one_repeat(rng: random.Random) -> list[int]:
    xs = numbers(rng, 4, 6)
    out = xs + [rng.choice(xs)]
    rng.shuffle(out)
    return out




def _with_multiple_of_3(rng: random.Random) -> list[int]:
    while True:
        xs = numbers(rng, 4, 6)
        if any(x % 3 == 0 for x in xs) and any(x % 3 for x in xs):
            return xs






def _dedupe(xs: list[int]) -> list[int]:
    seen: list[int] = []
    for x in xs:
        if x not in seen:
            seen.append(x)
    return seen






def number_specs() -> list[Spec]:
    """Number-list operations (Program Execution)."""
    asc = lambda xs: sorted(xs)  # noqa: E731
    desc = lambda xs: sorted(xs, reverse=True)  # noqa: E731
    same = lambda xs: list(xs)  # noqa: E731
    rev = lambda xs: list(reversed(xs))  # noqa: E731
    kw = dict(domains=NUM_DOMAINS, reasoning=("Numerical Reasoning",), family="numbers")
    s: list[Spec] = [
        listop("sort_numbers_ascending", "train",
               "In this task, you are given a list of numbers. Sort the numbers in ascending order, from the smallest to the largest.",
               PE, _nums(), "bracket", asc,
               [(same, "The list is copied unchanged; the numbers are not sorted."),
                (desc, "The numbers are sorted from the largest to the smallest, but ascending order was asked for.")],
               "The numbers sorted from smallest to largest are {answer}.", **kw),
        listop("order_numbers_smallest_first", "train",
               "Given a list of integers separated by commas, return the same integers ordered from smallest to largest.",
               PE, _nums(), "comma", asc,
               [(rev, "The list is only reversed, not sorted."),
                (desc, "This is the largest-first order; the smallest number must come first.")],
               "Ordering the integers from smallest to largest gives {answer}.", **kw),
        listop("reverse_number_list", "train",
               "You are given a list of numbers. Write the list in reverse order, so that the last number comes first.",
               PE, _nums(), "bracket", rev,
               [(same, "The list is not reversed."), (asc, "The numbers are sorted instead of reversed.")],
               "Reading the list backwards gives {answer}.", **kw),
        listop("reverse_numbers_backwards", "train",
               "Output the given numbers backwards: start with the last number and end with the first one.",
               PE, _nums(), "space", rev,
               [(same, "The numbers keep their original order."), (desc, "The numbers are sorted, not reversed.")],
               "Backwards, the numbers are {answer}.", **kw),
        listop("largest_number", "train",
               "In this task, you are given a list of numbers. Find the largest number in the list and output it.",
               PE, _nums(), "bracket", max,
               [(min, "This is the smallest number, not the largest one."),
                (lambda xs: xs[0], "This is the first number of the list, which is not the largest.")],
               "{answer} is larger than every other number in the list.", **kw),
        listop("maximum_of_list", "train",
               "Return the maximum value of the given list of integers.",
               PE, _nums(), "comma", max,
               [(min, "This is the minimum, not the maximum."),
                (lambda xs: xs[-1], "This is only the last number of the list.")],
               "The maximum is {answer}.", **kw),
        listop("keep_even_numbers", "train",
               "You are given a list of integers. Remove every odd number from the list and output the even numbers in their original order.",
               PE, _with_parity, "bracket", lambda xs: [x for x in xs if x % 2 == 0],
               [(lambda xs: [x for x in xs if x % 2], "These are the odd numbers; the even ones should be kept."),
                (same, "The odd numbers were not removed.")],
               "The even numbers of the list are {answer}.", **kw),
        listop("filter_even_numbers", "train",
               "Keep only the numbers of the list that are divisible by 2.",
               PE, _with_parity, "space", lambda xs: [x for x in xs if x % 2 == 0],
               [(lambda xs: [x for x in xs if x % 2], "These numbers are not divisible by 2."),
                (lambda xs: sorted(x for x in xs if x % 2 == 0), "The even numbers must keep their original order.")],
               "Only {answer} are divisible by 2.", **kw),
        listop("numbers_greater_than_50", "train",
               "Given a list of numbers, output only the numbers that are greater than 50, in their original order.",
               PE, _with_threshold(50), "bracket", lambda xs: [x for x in xs if x > 50],
               [(lambda xs: [x for x in xs if x <= 50], "These numbers are not greater than 50."),
                (same, "The numbers up to 50 should have been removed.")],
               "The numbers above 50 are {answer}.", **kw),
        listop("numbers_above_30", "train",
               "Remove all numbers that are 30 or less from the list.",
               PE, _with_threshold(30), "comma", lambda xs: [x for x in xs if x > 30],
               [(lambda xs: [x for x in xs if x <= 30], "These are exactly the numbers that had to be removed."),
                (same, "Nothing was removed.")],
               "After removing the numbers up to 30, {answer} remain.", **kw),
        listop("remove_duplicate_numbers", "train",
               "In this task you are given a list of numbers that contains repeated values. Remove the repeated values, keeping the first occurrence of each number.",
               PE, _with_duplicates, "bracket", _dedupe,
               [(same, "The repeated values are still in the list."),
                (lambda xs: sorted(set(xs)), "The numbers must keep the order of their first occurrence.")],
               "Keeping each number once gives {answer}.", **kw),
        listop("first_number", "train",
               "Output the first number of the given list.",
               PE, _nums(), "bracket", lambda xs: xs[0],
               [(lambda xs: xs[-1], "This is the last number, not the first."),
                (max, "This is the largest number, not the first one.")],
               "The list starts with {answer}.", **kw),
        listop("last_number", "train",
               "In this task, you are given a list of integers. Return the last integer of the list.",
               PE, _nums(), "comma", lambda xs: xs[-1],
               [(lambda xs: xs[0], "This is the first integer, not the last."),
                (min, "This is the smallest integer, not the last one.")],
               "The list ends with {answer}.", **kw),
        listop("every_other_number", "train",
               "Given a list of numbers, output the 1st, 3rd, 5th, ... numbers, i.e. every other number starting with the first one.",
               PE, _nums(4, 6), "bracket", lambda xs: xs[::2],
               [(lambda xs: xs[1::2], "These are the 2nd, 4th, ... numbers; the list must start with the first number."),
                (same, "No number was skipped.")],
               "Taking every other number from the start gives {answer}.", **kw),
        listop("repeated_number", "train",
               "Exactly one number appears twice in the given list. Find that number.",
               PE, _with_one_repeat, "comma", lambda xs: next(x for x in xs if xs.count(x) > 1),
               [(lambda xs: xs[0] if xs.count(xs[0]) == 1 else xs[1], "This number appears only once."),
                (max, "This is the largest number; it is not repeated.")],
               "{answer} occurs two times.", **kw),
        listop("count_numbers", "train",
               "Count how many numbers are in the given list and output the count.",
               PE, _nums(3, 8), "bracket", len,
               [(lambda xs: len(xs) + 1, "The count is one too many."),
                (max, "This is the largest number, not the number of elements.")],
               "The list has {answer} numbers.", **kw),
        listop("copy_number_list", "train", "Repeat the given list of numbers without changing it.",
               PE, _nums(), "bracket", same,
               [(rev, "The numbers were reversed; the list must stay unchanged."),
                (lambda xs: xs[1:], "The first number is missing.")],
               "The list is repeated as it is: {answer}.", **kw),
        custom("numbers_without_brackets", "train",
               "Rewrite the given list of numbers without brackets and commas, separating the numbers with spaces.",
               PE, _nums(), lambda xs: "[" + ", ".join(map(str, xs)) + "]", lambda xs: " ".join(map(str, xs)),
               [(lambda xs: ", ".join(map(str, xs)), "The commas are still there."),
                (lambda xs: " ".join(map(str, reversed(xs))), "The numbers are in the wrong order.")],
               "Without brackets and commas: {answer}.", **kw),
        listop("increasing_order", "train", "Put the given numbers in increasing order.",
               PE, _nums(), "space", asc,
               [(rev, "The numbers were reversed, not put in increasing order."),
                (same, "The order of the numbers was not changed.")],
               "In increasing order: {answer}.", **kw),
        listop("biggest_number", "train", "What is the biggest number in the given list? Output only that number.",
               PE, _nums(), "space", max,
               [(lambda xs: xs[-1], "This is the last number, not the biggest."),
                (min, "This is the smallest number.")],
               "No number in the list is bigger than {answer}.", **kw),
        listop("first_two_numbers", "train", "Output the first two numbers of the given list.",
               PE, _nums(3, 5), "bracket", lambda xs: xs[:2],
               [(lambda xs: xs[-2:], "These are the last two numbers."), (lambda xs: xs[:1], "Only one number was given.")],
               "The list starts with {answer}.", **kw),
        listop("remove_first_number", "train", "Delete the first number of the list and output the remaining numbers.",
               PE, _nums(3, 5), "comma", lambda xs: xs[1:],
               [(same, "The first number was not deleted."), (lambda xs: xs[:-1], "The last number was deleted instead of the first.")],
               "Without the first number the list is {answer}.", **kw),
        listop("multiples_of_three", "train",
               "In this task, you are given a list of numbers. Keep only the numbers that are divisible by 3, in their original order.",
               PE, _with_multiple_of_3, "bracket", lambda xs: [x for x in xs if x % 3 == 0],
               [(lambda xs: [x for x in xs if x % 3], "These numbers are not divisible by 3."),
                (same, "Numbers that are not divisible by 3 were kept.")],
               "The numbers divisible by 3 are {answer}.", **kw),
        # ---- held-out variants
        listop("sort_numbers_descending", "test",
               "In this task, you are given a list of numbers. Sort the numbers in descending order, from the largest to the smallest.",
               PE, _nums(), "bracket", desc,
               [(asc, "The numbers are in ascending order, but descending order was asked for."),
                (same, "The list is copied unchanged; the numbers are not sorted.")],
               "From largest to smallest, the numbers are {answer}.", **kw),
        listop("smallest_number", "test",
               "In this task, you are given a list of numbers. Find the smallest number in the list and output it.",
               PE, _nums(), "comma", min,
               [(max, "This is the largest number, not the smallest one."),
                (lambda xs: xs[0], "This is only the first number of the list.")],
               "{answer} is smaller than every other number in the list.", **kw),
        listop("keep_odd_numbers", "test",
               "You are given a list of integers. Remove every even number from the list and output the odd numbers in their original order.",
               PE, _with_parity, "bracket", lambda xs: [x for x in xs if x % 2],
               [(lambda xs: [x for x in xs if x % 2 == 0], "These are the even numbers; the odd ones should be kept."),
                (same, "The even numbers were not removed.")],
               "The odd numbers of the list are {answer}.", **kw),
        # ---- development variants (for choosing the demo's settings; never trained on, never reported as test)
        listop("numbers_below_50", "dev",
               "Given a list of numbers, output only the numbers that are smaller than 50, in their original order.",
               PE, _with_threshold(49), "bracket", lambda xs: [x for x in xs if x < 50],
               [(lambda xs: [x for x in xs if x >= 50], "These are the numbers that are 50 or more."),
                (same, "The large numbers were not removed.")],
               "The numbers below 50 are {answer}.", **kw),
        listop("remove_last_number", "dev", "Delete the last number of the list and output the remaining numbers.",
               PE, _nums(), "comma", lambda xs: xs[:-1],
               [(lambda xs: xs[1:], "The first number was deleted instead of the last one."), (same, "No number was deleted.")],
               "Without its last number the list is {answer}.", **kw),
    ]
    return s


def arithmetic_specs() -> list[Spec]:
    """Small arithmetic (training only: exact numeric answers are out of reach of a tiny model)."""
    kw = dict(domains=NUM_DOMAINS, reasoning=("Numerical Reasoning",), family="arithmetic")
    pair = lambda rng: rng.sample(range(1, 50), 2)  # noqa: E731
    return [
        listop("add_two_numbers", "train", "Add the two given numbers and output their sum.",
               MATH, pair, "comma", lambda p: p[0] + p[1],
               [(lambda p: abs(p[0] - p[1]), "This is the difference of the numbers, not their sum."),
                (lambda p: p[0] + p[1] + 1, "The sum is off by one.")],
               "The sum of the two numbers is {answer}.", **kw),
        listop("sum_of_pair", "train", "In this task, you are given two integers. Return the result of adding them together.",
               MATH, pair, "bracket", lambda p: p[0] + p[1],
               [(lambda p: p[0] * p[1], "The numbers were multiplied, not added."),
                (max, "This is only the larger number.")],
               "Adding them gives {answer}.", **kw),
        listop("subtract_smaller", "train",
               "Subtract the smaller of the two given numbers from the larger one and output the difference.",
               MATH, pair, "comma", lambda p: abs(p[0] - p[1]),
               [(lambda p: p[0] + p[1], "The numbers were added, not subtracted."),
                (min, "This is the smaller number, not the difference.")],
               "The difference is {answer}.", **kw),
        listop("multiply_small_numbers", "train", "Multiply the two given numbers.",
               MATH, lambda rng: [rng.randint(2, 9), rng.randint(2, 40)], "comma", lambda p: p[0] * p[1],
               [(lambda p: p[0] + p[1], "This is the sum, not the product."),
                (lambda p: p[0] * p[1] + p[0], "The product is wrong.")],
               "The product is {answer}.", **kw),
        custom("add_ten", "train", "Add 10 to the given number.", MATH,
               lambda rng: rng.randint(1, 989), str, lambda x: x + 10,
               [(lambda x: x + 1, "Only 1 was added, not 10."), (lambda x: x - 10, "10 was subtracted instead of added.")],
               "The number plus 10 is {answer}.", **kw),
        custom("double_number", "train", "In this task you are given a number. Output twice the number.", MATH,
               lambda rng: rng.randint(1, 499), str, lambda x: 2 * x,
               [(lambda x: x + 2, "2 was added instead of doubling the number."), (lambda x: x, "The number was not doubled.")],
               "Two times the number is {answer}.", **kw),
        listop("sum_of_list", "train", "Compute the sum of all numbers in the list.",
               MATH, lambda rng: numbers(rng, 3, 4, 20), "bracket", sum,
               [(max, "This is the largest number, not the sum."), (len, "This is the number of elements, not their sum.")],
               "Adding all numbers gives {answer}.", **kw),
        listop("next_in_sequence", "train",
               "The given numbers form an arithmetic sequence (the same step is added each time). Output the next number of the sequence.",
               MATH, lambda rng: (lambda a, d, n: [a + i * d for i in range(n)])(rng.randint(1, 30), rng.randint(2, 9), rng.randint(3, 5)),
               "comma", lambda xs: xs[-1] + (xs[1] - xs[0]),
               [(lambda xs: xs[-1] + 1, "The step of the sequence is not 1."), (lambda xs: xs[0], "This is the first number of the sequence.")],
               "Adding the step once more gives {answer}.", **kw),
    ]
