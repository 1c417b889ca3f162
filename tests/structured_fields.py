"""A strict parser for RFC 8941 structured-field Lists (section 4.2), as the IETF RateLimit
header drafts use them: ``"name";q=10;w=60, "other";q=5``. Items and parameter values may be
strings, tokens, integers, decimals or booleans (byte sequences and inner lists are not used
by the drafts and are rejected). Raises ValueError on anything the RFC does not allow."""

from __future__ import annotations

import re
import string
from decimal import Decimal
from typing import Any

_KEY_START = set(string.ascii_lowercase + "*")
_KEY_CHARS = set(string.ascii_lowercase + string.digits + "_-.*")
_TCHAR = set("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits + ":/")


class _Parser:
    def __init__(self, text: str) -> None:
        if any(ord(c) > 0x7E for c in text):
            raise ValueError("non-ASCII")
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def list(self) -> list[tuple[Any, dict[str, Any]]]:
        self.skip_sp()
        members = []
        while self.peek():
            if self.peek() == "(":
                raise ValueError("inner lists are not expected here")
            members.append((self.bare_item(), self.parameters()))
            self.skip_ows()
            if not self.peek():
                return members
            if self.take() != ",":
                raise ValueError(f"expected ',' at {self.i - 1}")
            self.skip_ows()
            if not self.peek():
                raise ValueError("trailing comma")
        return members

    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            key = self.key()
            value: Any = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            params[key] = value
        return params

    def key(self) -> str:
        if self.peek() not in _KEY_START:
            raise ValueError(f"bad key start at {self.i}")
        start = self.i
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start : self.i]

    def bare_item(self) -> Any:
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.number()
        if c == '"':
            return self.string()
        if c == "?":
            self.i += 1
            v = self.take()
            if v not in ("0", "1"):
                raise ValueError("bad boolean")
            return v == "1"
        if c.isalpha() or c == "*":
            start = self.i
            while self.peek() and self.peek() in _TCHAR:
                self.i += 1
            return ("token", self.s[start : self.i])
        raise ValueError(f"unexpected {c!r} at {self.i}")

    def number(self) -> int | Decimal:
        m = re.compile(r"-?\d+(\.\d+)?").match(self.s, self.i)
        if m is None:
            raise ValueError("bad number")
        text = m.group(0)
        self.i = m.end()
        if m.group(1) is None:
            if len(text.lstrip("-")) > 15:
                raise ValueError("integer too long")
            return int(text)
        whole, frac = text.lstrip("-").split(".")
        if len(whole) > 12 or len(frac) > 3:
            raise ValueError("decimal too long")
        return Decimal(text)

    def string(self) -> str:
        self.i += 1
        out = []
        while True:
            c = self.take()
            if c == "":
                raise ValueError("unterminated string")
            if c == "\\":
                nxt = self.take()
                if nxt not in ('"', "\\"):
                    raise ValueError("bad escape")
                out.append(nxt)
            elif c == '"':
                return "".join(out)
            elif not 0x20 <= ord(c) <= 0x7E:
                raise ValueError("bad string character")
            else:
                out.append(c)


def parse_list(text: str) -> list[tuple[Any, dict[str, Any]]]:
    """``[(item, {param: value})]`` of an RFC 8941 List."""
    return _Parser(text).list()
