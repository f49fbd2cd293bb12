"""The parsed form of a PostgREST query string, and the cursor the parsers share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from testing.postgrest_standin.errors import ApiError, parse_error

QUANT_OPS = {
    "eq": "=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "ilike": "ILIKE",
    "match": "~",
    "imatch": "~*",
}
SIMPLE_OPS = {
    "neq": "<>",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
FTS_OPS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
IS_VALUES = ("null", "not_null", "true", "false", "unknown")
OP_WORDS = ("not", "in", "is", "isdistinct", *FTS_OPS, *SIMPLE_OPS, *QUANT_OPS)
RESERVED = ("select", "columns", "on_conflict", "apikey")
EMBEDDABLE = ("order", "limit", "offset", "and", "or")
_INDEX = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Field:
    name: str
    # one (arrow, operand, is_index) per step: `data->a->>0` is
    # (("->", "a", False), ("->>", "0", True))
    path: tuple[tuple[str, str, bool], ...] = ()


@dataclass(frozen=True)
class Filter:
    field: Field
    op: str  # a key of QUANT_OPS/SIMPLE_OPS/FTS_OPS, or "in", "is", "isdistinct"
    value: str | tuple[str, ...]
    negated: bool = False
    quant: str | None = None  # "any"/"all" for eq(any).{a,b}
    lang: str | None = None  # fts(english).word


@dataclass(frozen=True)
class Logic:
    op: str  # "and" / "or"
    children: tuple[Filter | Logic, ...]
    negated: bool = False


@dataclass(frozen=True)
class SelectItem:
    field: Field  # name "*" selects every column
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class OrderTerm:
    field: Field
    direction: str | None = None  # "asc" / "desc"
    nulls: str | None = None  # "nullsfirst" / "nullslast"


@dataclass
class Query:
    select: list[SelectItem] = field(default_factory=lambda: [SelectItem(Field("*"))])
    filters: list[Filter] = field(default_factory=list)
    logic: list[Logic] = field(default_factory=list)
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    columns: list[str] | None = None
    on_conflict: list[str] | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.filters or self.logic)


class Cursor:
    """A position in one parameter value, with PostgREST-worded errors."""

    def __init__(self, text: str, what: str, shown: str | None = None) -> None:
        self.text = text
        self.what = what
        self.shown = text if shown is None else shown  # the text the error message quotes
        self.pos = 0

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def eat(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def skip_ws(self) -> None:
        while self.peek() in (" ", "\t") and not self.at_end():
            self.pos += 1

    def fail(self, expecting: str, pos: int | None = None, found_at: int | None = None) -> ApiError:
        pos = self.pos if pos is None else pos
        found_at = pos if found_at is None else found_at
        found = f'"{self.text[found_at]}"' if found_at < len(self.text) else "end of input"
        details = f"unexpected {found} expecting {expecting}"
        return parse_error(self.what, self.shown, pos + 1, details)

    def expect(self, token: str, label: str | None = None) -> None:
        if not self.eat(token):
            raise self.fail(label or f'"{token}"')

    def name(self) -> str:
        if self.eat('"'):
            out = []
            while not self.at_end() and self.peek() != '"':
                if self.peek() == "\\" and self.pos + 1 < len(self.text):
                    self.pos += 1
                out.append(self.peek())
                self.pos += 1
            self.expect('"')
            return "".join(out)
        start = self.pos
        while not self.at_end():
            c = self.peek()
            if c.isalnum() or c in "_ $" or (c == "-" and self.peek(2) != "->"):
                self.pos += 1
            else:
                break
        if self.pos == start:
            raise self.fail("field name (* or [a..z0..9_$])")
        return self.text[start : self.pos].strip()

    def field(self) -> Field:
        name = self.name()
        steps = []
        while self.peek(2) == "->":
            if self.eat("->>"):
                arrow = "->>"
            else:
                self.pos += 2
                arrow = "->"
            start = self.pos
            while not self.at_end() and self.peek() not in ".,:()" and self.peek(2) != "->":
                self.pos += 1
            operand = self.text[start : self.pos]
            if not operand:
                raise self.fail("json key or index")
            steps.append((arrow, operand, bool(_INDEX.fullmatch(operand))))
        return Field(name, tuple(steps))
