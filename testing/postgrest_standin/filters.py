"""Filters (`col=[not.]op.value`) and logic trees (`or=(a.eq.1,and(b.gt.0,b.lt.5))`)."""

from __future__ import annotations

from testing.postgrest_standin.errors import ApiError, not_embedded
from testing.postgrest_standin.syntax import (
    FTS_OPS,
    IS_VALUES,
    OP_WORDS,
    QUANT_OPS,
    SIMPLE_OPS,
    Cursor,
    Field,
    Filter,
    Logic,
)


def _op_error(cur: Cursor) -> ApiError:
    # parsec backtracks to the start of the operator but reports the first character that no
    # operator keyword could continue with: "noop.0" → unexpected "o" (line 1, column 1)
    rest = cur.text[cur.pos :]
    best = max(len(_common_prefix(rest, w)) for w in OP_WORDS)
    return cur.fail('"not" or operator (eq, gt, ...)', found_at=cur.pos + best)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _single_value(cur: Cursor, in_logic: bool) -> str:
    if not in_logic:
        value = cur.text[cur.pos :]
        cur.pos = len(cur.text)
        return value
    start = cur.pos
    if cur.peek() == '"':
        quoted = cur.name()
        if cur.at_end() or cur.peek() in ",)":
            return quoted
        cur.pos = start
    if cur.peek() == "{":
        end = cur.text.find("}", cur.pos)
        if end != -1 and "{" not in cur.text[cur.pos + 1 : end]:
            cur.pos = end + 1
            return cur.text[start : cur.pos]
    while not cur.at_end() and cur.peek() not in ",)":
        cur.pos += 1
    return cur.text[start : cur.pos]


def _list_value(cur: Cursor) -> tuple[str, ...]:
    cur.skip_ws()
    cur.expect("(")
    cur.skip_ws()
    items: list[str] = []
    while True:
        start = cur.pos
        item = None
        if cur.peek() == '"':
            quoted = cur.name()
            if cur.peek() in (",", ")"):
                item = quoted
            else:
                cur.pos = start
        if item is None:
            while not cur.at_end() and cur.peek() not in ",)":
                cur.pos += 1
            item = cur.text[start : cur.pos]
        items.append(item)
        if not cur.eat(","):
            break
    cur.skip_ws()
    cur.expect(")")
    return () if items == [""] else tuple(items)


def _op_expr(cur: Cursor, fld: Field, in_logic: bool) -> Filter:
    negated = cur.eat("not.")
    if cur.eat("in."):
        return Filter(fld, "in", _list_value(cur), negated)
    if cur.eat("is."):
        rest = cur.text[cur.pos :].lower()
        for word in IS_VALUES:
            if rest.startswith(word):
                cur.pos += len(word)
                return Filter(fld, "is", word, negated)
        raise cur.fail("isVal: (null, not_null, true, false, unknown)")
    if cur.eat("isdistinct."):
        return Filter(fld, "isdistinct", _single_value(cur, in_logic), negated)
    for op in FTS_OPS:
        after = cur.text[cur.pos + len(op) : cur.pos + len(op) + 1]
        if cur.text.startswith(op, cur.pos) and after in (".", "("):
            cur.pos += len(op)
            lang = None
            if cur.eat("("):
                start = cur.pos
                while not cur.at_end() and cur.peek() != ")":
                    cur.pos += 1
                lang = cur.text[start : cur.pos].strip()
                cur.expect(")")
            cur.expect(".", "delimiter (.)")
            return Filter(fld, op, _single_value(cur, in_logic), negated, lang=lang)
    for op in SIMPLE_OPS:
        if cur.eat(op + "."):
            return Filter(fld, op, _single_value(cur, in_logic), negated)
    for op in QUANT_OPS:
        if cur.eat(op + "."):
            return Filter(fld, op, _single_value(cur, in_logic), negated)
        for quant in ("any", "all"):
            if cur.eat(f"{op}({quant})."):
                return Filter(fld, op, _single_value(cur, in_logic), negated, quant=quant)
    raise _op_error(cur)


def _logic_tree(cur: Cursor) -> Filter | Logic:
    start = cur.pos
    try:
        fld = cur.field()
        cur.expect(".", "delimiter (.)")
        return _op_expr(cur, fld, in_logic=True)
    except ApiError:
        cur.pos = start
    negated = cur.eat("not.")
    if cur.eat("and"):
        op = "and"
    elif cur.eat("or"):
        op = "or"
    else:
        raise cur.fail("logic operator (and, or)")
    cur.skip_ws()
    cur.expect("(")
    children = []
    while True:
        cur.skip_ws()
        children.append(_logic_tree(cur))
        cur.skip_ws()
        if not cur.eat(","):
            break
    cur.expect(")")
    return Logic(op, tuple(children), negated)


def parse_filter(key: str, value: str) -> Filter:
    key_cur = Cursor(key, "tree path")
    names = [key_cur.name()]
    while key_cur.eat("."):
        names.append(key_cur.name())
    if len(names) > 1:
        raise not_embedded(names[0])
    key_cur.pos = 0
    fld = key_cur.field()
    return _op_expr(Cursor(value, "filter"), fld, in_logic=False)


def parse_logic(key: str, value: str) -> Logic:
    path = [p for p in key.split(".") if p != "not"]
    if len(path) > 1:
        raise not_embedded(path[0])
    text = ("not." if key.startswith("not.") else "") + path[0] + value
    cur = Cursor(text, "logic tree", shown=value)
    tree = _logic_tree(cur)
    if isinstance(tree, Filter):
        raise cur.fail('"("', 0)
    return tree
