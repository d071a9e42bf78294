"""Every message docs/TROUBLESHOOTING.md quotes is one the code really prints."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "TROUBLESHOOTING.md"
# The message lines, and their continuations: "**Message:** `a` or `b`, also `c`".
QUOTED = re.compile(r"`([^`]+)`")


def quoted_messages() -> list[str]:
    messages, inside = [], False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("**Message:**"):
            inside = True
        elif not line.strip():
            inside = False
        if inside:
            messages += QUOTED.findall(line.removeprefix("**Message:**"))
    return messages


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "chaosllm").rglob("*.py")))


def test_the_page_quotes_messages() -> None:
    assert len(quoted_messages()) >= 25


def test_every_quoted_message_is_in_the_code() -> None:
    source = _source()
    missing = []
    for message in quoted_messages():
        # "…" stands for what the code fills in; every piece between must be printed as written.
        pieces = [p for p in message.split("…") if p.strip(" ,.:()")]
        if not all(piece in source for piece in pieces):
            missing.append(message)
    assert not missing, f"docs/TROUBLESHOOTING.md quotes messages the code does not print: {missing}"
