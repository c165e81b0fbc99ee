"""Formulas over trends series: `A/B`, `(A-B)/A*100`, `A+B+C`.

A small recursive-descent parser (no eval): numbers, the series letters A, B, C, ...
(series 1, 2, 3, ...), + - * /, unary minus and parentheses. `parse` raises
`FormulaError` with the reason (position and what was expected); `evaluate` applies the
tree to one value per letter. Division by zero, or a missing operand (None), gives None
(drawn as a gap), never an error.

    formula := expr
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | LETTER | "(" expr ")"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_FORMULA_LENGTH = 200
LETTERS = "ABCDEFGHIJ"  # MAX_SERIES letters
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?|\.\d+)|(?P<letter>[A-Za-z])|(?P<op>[-+*/()]))")


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    index: int  # 0-based series index


@dataclass(frozen=True)
class Neg:
    operand: object


@dataclass(frozen=True)
class BinOp:
    op: str
    left: object
    right: object


def letter(index: int) -> str:
    return LETTERS[index] if 0 <= index < len(LETTERS) else str(index + 1)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FormulaError(f"unexpected {text[pos:].lstrip()[:1]!r} at position {pos + 1}")
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return out


def parse(text: str, n_series: int) -> object:
    """The tree of `text`; letters must name one of the `n_series` series."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("is empty")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"must be at most {MAX_FORMULA_LENGTH} characters")
    tokens = _tokens(text)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        tok = peek()
        pos += 1
        return tok

    def expr(depth):
        if depth > 50:
            raise FormulaError("is nested too deeply")
        node = term(depth)
        while (tok := peek()) and tok[1] in "+-" and tok[0] == "op":
            take()
            node = BinOp(tok[1], node, term(depth))
        return node

    def term(depth):
        node = unary(depth)
        while (tok := peek()) and tok[0] == "op" and tok[1] in "*/":
            take()
            node = BinOp(tok[1], node, unary(depth))
        return node

    def unary(depth):
        tok = peek()
        if tok and tok == ("op", "-", tok[2]):
            take()
            return Neg(unary(depth + 1))
        if tok and tok == ("op", "+", tok[2]):
            take()
            return unary(depth + 1)
        return atom(depth)

    def atom(depth):
        tok = take()
        if tok is None:
            raise FormulaError("ends too early: expected a number, a series letter or (")
        kind, value, at = tok
        if kind == "num":
            return Num(float(value))
        if kind == "letter":
            index = LETTERS.find(value.upper())
            if index < 0 or index >= n_series:
                last = letter(n_series - 1)
                raise FormulaError(f"{value} at position {at} is not a series (use A to {last})")
            return Ref(index)
        if value == "(":
            node = expr(depth + 1)
            close = take()
            if close is None or close[1] != ")":
                where = "the end" if close is None else f"position {close[2]}"
                raise FormulaError(f"expected ) at {where}")
            return node
        raise FormulaError(f"unexpected {value!r} at position {at}")

    tree = expr(0)
    if peek() is not None:
        raise FormulaError(f"unexpected {peek()[1]!r} at position {peek()[2]}")
    return tree


def evaluate(node, values) -> float | None:
    """`node` with Ref(i) -> values[i]; None when dividing by zero or an operand is None."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        v = values[node.index]
        return None if v is None else float(v)
    if isinstance(node, Neg):
        v = evaluate(node.operand, values)
        return None if v is None else -v
    left = evaluate(node.left, values)
    right = evaluate(node.right, values)
    if left is None or right is None:
        return None
    if node.op == "+":
        out = left + right
    elif node.op == "-":
        out = left - right
    elif node.op == "*":
        out = left * right
    else:
        if right == 0:
            return None
        out = left / right
    return out if math.isfinite(out) else None


def letters_used(node) -> set[int]:
    if isinstance(node, Ref):
        return {node.index}
    if isinstance(node, Neg):
        return letters_used(node.operand)
    if isinstance(node, BinOp):
        return letters_used(node.left) | letters_used(node.right)
    return set()
