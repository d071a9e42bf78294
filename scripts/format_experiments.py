"""Lay out experiment JSON files compactly: a value goes on one line when it fits.

    python scripts/format_experiments.py experiments/scenarios/*/*.json
    python scripts/format_experiments.py --check experiments/scenarios/*/*.json

The content is unchanged (the files parse to the same JSON); only the layout
differs from ``json.dumps(indent=2)``: small objects and lists that fit in
WIDTH columns stay on one line, as the examples in docs/ACTIVITIES.md do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

WIDTH = 100
INDENT = "  "


def _inline(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(value: Any, prefix: str = "", depth: int = 0) -> str:
    """``value`` as JSON, with ``prefix`` (a key, or nothing) on its first line."""
    pad = INDENT * depth
    one_line = f"{pad}{prefix}{_inline(value)}"
    if len(one_line) <= WIDTH or not isinstance(value, dict | list) or not value:
        return one_line
    if isinstance(value, dict):
        members = [render(item, f"{_inline(key)}: ", depth + 1) for key, item in value.items()]
        opening, closing = "{", "}"
    else:
        members = [render(item, "", depth + 1) for item in value]
        opening, closing = "[", "]"
    return f"{pad}{prefix}{opening}\n" + ",\n".join(members) + f"\n{pad}{closing}"


def formatted(path: Path) -> str:
    return render(json.loads(path.read_text(encoding="utf-8"))) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report files not laid out so")
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = formatted(path)
        if path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'not laid out' if args.check else 'reformatted'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
