"""docs/CONFIGURATION.md lists exactly the ``CHAOSLLM_*`` variables that are read.

The variables read are found in the code, not in a list kept by hand:
``CHAOSLLM_*`` names in string literals of ``chaosllm/`` (docstrings left out),
the keys given to ``get_setting``, ``require_setting`` and ``find_setting``
(as a literal or a module constant; each is read as ``CHAOSLLM_<KEY>``), and
the ``env`` entries of the shipped experiments' ``configuration``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "CONFIGURATION.md"
NAME = re.compile(r"\bCHAOSLLM_[A-Z][A-Z0-9_]*")
LOOKUPS = {"get_setting", "require_setting", "find_setting"}
ROW = re.compile(r"^\|\s*`(CHAOSLLM_[A-Z0-9_]+)`\s*\|(.*)\|\s*$")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
    return constants


def _lookup_key(call: ast.Call, constants: dict[str, str]) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in LOOKUPS or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.Name):
        return constants.get(first.id)
    return None


def variables_in_code() -> dict[str, set[str]]:
    """Every variable read, with the files that read it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "chaosllm").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings, constants = _docstrings(tree), _module_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for name in NAME.findall(node.value):
                    found.setdefault(name, set()).add(where)
            elif isinstance(node, ast.Call) and (key := _lookup_key(node, constants)):
                found.setdefault("CHAOSLLM_" + key.upper(), set()).add(where)
    for path in sorted((ROOT / "experiments").rglob("*.json")):
        for value in (json.loads(path.read_text()).get("configuration") or {}).values():
            if isinstance(value, dict) and value.get("type") == "env":
                found.setdefault(str(value["key"]), set()).add(str(path.relative_to(ROOT)))
    return found


def documented() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} has two rows"
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_the_scan_finds_variables_of_each_kind() -> None:
    found = variables_in_code()
    assert "chaosllm/faults/statedir.py" in found["CHAOSLLM_STATE_DIR"]  # a literal
    assert "chaosllm/_clients/redis.py" in found["CHAOSLLM_REDIS_URL"]  # a setting key
    assert "chaosllm/dry_run.py" in found["CHAOSLLM_DRY_RUN"]  # a module constant
    assert "experiments/application/db-failure.json" in found["CHAOSLLM_DB_TABLE"]


def test_every_variable_read_has_a_row_and_every_row_is_read() -> None:
    read, rows = variables_in_code(), documented()
    missing = {name: sorted(where) for name, where in read.items() if name not in rows}
    assert not missing, f"read but not in docs/CONFIGURATION.md: {missing}"
    unread = sorted(set(rows) - set(read))
    assert not unread, f"in docs/CONFIGURATION.md but read nowhere: {unread}"


def test_every_row_has_a_meaning_a_default_and_a_reader() -> None:
    for name, (key, meaning, default, read_by) in documented().items():
        assert meaning and default and read_by, name
        if key:
            assert key.startswith(f"`{name.removeprefix('CHAOSLLM_').lower()}`"), (name, key)
