"""GitHub's `${{ }}` expressions: a parser and evaluator for the parts workflows use, `if:` conditions."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.replay.events import ReplayError

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ReplayError(f"cannot parse expression at {text[pos:]!r} in {text!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "name" and value in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            out.append((kind, value))
    return out


def to_str(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def to_num(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return float("nan")


def _equal(a: Any, b: Any) -> bool:
    """GitHub's loose equality: strings compare case-insensitively; mixed types compare as numbers
    (null and '' are both 0, so an unset `vars.X != ''` is false, as on GitHub)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b):
        return a == b
    return to_num(a) == to_num(b)


def truthy(value: Any) -> bool:
    return not (value is None or value is False or value == "" or value == 0)


class _Parser:
    """Recursive descent over GitHub's expression grammar (the parts workflows use)."""

    def __init__(self, text: str, context: dict[str, Any], status: dict[str, bool]):
        self.text, self.toks, self.i = text, _tokens(text), 0
        self.ctx, self.status = context, status

    def parse(self) -> Any:
        value = self.or_()
        if self.i != len(self.toks):
            raise ReplayError(f"unexpected {self.toks[self.i][1]!r} in expression {self.text!r}")
        return value

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ReplayError(f"expected {value!r} in expression {self.text!r}")
        self.i += 1
        return tok

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.cmp()
            left = right if truthy(left) else left
        return left

    def cmp(self) -> Any:
        left = self.unary()
        while self.peek() and self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", ">",
                                                                             "<=", ">="):
            op = self.take()[1]
            right = self.unary()
            if op == "==":
                left = _equal(left, right)
            elif op == "!=":
                left = not _equal(left, right)
            else:
                a, b = ((left.lower(), right.lower()) if isinstance(left, str) and isinstance(right, str)
                        else (to_num(left), to_num(right)))
                left = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.or_())
                    if self.peek() == ("op", ","):
                        self.take()
                self.take(")")
                return self.call(value, args)
            return self.ctx.get(value)
        raise ReplayError(f"unexpected {value!r} in expression {self.text!r}")

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if (kind, name) == ("op", "*"):
                    raise ReplayError(f"object filters (.*) are not replayed: {self.text!r}")
                value = _index(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _index(value, key)
        return value

    def call(self, name: str, args: list[Any]) -> Any:
        lname = name.lower()
        if lname in self.status:
            return self.status[lname]
        if lname == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_equal(x, needle) for x in hay)
            return to_str(needle).lower() in to_str(hay).lower()
        if lname == "startswith":
            return to_str(args[0]).lower().startswith(to_str(args[1]).lower())
        if lname == "endswith":
            return to_str(args[0]).lower().endswith(to_str(args[1]).lower())
        if lname == "format":
            text = to_str(args[0])
            for i, arg in enumerate(args[1:]):
                text = text.replace(f"{{{i}}}", to_str(arg))
            return text.replace("{{", "{").replace("}}", "}")
        if lname == "join":
            sep = to_str(args[1]) if len(args) > 1 else ","
            return sep.join(to_str(x) for x in args[0]) if isinstance(args[0], list) else to_str(args[0])
        if lname == "tojson":
            return json.dumps(args[0], indent=2)
        if lname == "fromjson":
            return json.loads(to_str(args[0]))
        if lname == "hashfiles":
            return ""
        raise ReplayError(f"function {name}() is not replayed ({self.text!r})")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        lowered = {str(k).lower(): v for k, v in value.items()}
        return lowered.get(str(key).lower())
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def evaluate(expr: str, context: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    """Evaluate one expression (without the `${{ }}`)."""
    return _Parser(expr, context, status or {"success": True, "failure": False, "always": True,
                                             "cancelled": False}).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def substitute(value: Any, context: dict[str, Any]) -> Any:
    """`${{ expr }}` in strings (recursively in lists and mappings); a lone expression keeps its type."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), context)
    return _TEMPLATE.sub(lambda m: to_str(evaluate(m.group(1), context)), value)


def condition(expr: Any, context: dict[str, Any], status: dict[str, bool]) -> bool:
    """An `if:`: with or without `${{ }}`; success() is implied unless a status function is used."""
    if expr is None:
        return status["success"]
    if isinstance(expr, bool):
        return expr and status["success"]
    text = str(expr).strip()
    whole = _TEMPLATE.fullmatch(text)
    if whole:
        text = whole.group(1).strip()
    if not re.search(r"\b(" + "|".join(STATUS_FUNCTIONS) + r")\s*\(", text, re.IGNORECASE):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, status))

