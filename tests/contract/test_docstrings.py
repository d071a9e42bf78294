"""Docstring examples are published by discovery: they must be runnable JSON.

Each public activity's ```json example must parse, name a real module and
function, pass only arguments that function accepts and every argument it
requires, and show the activity it documents.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import chaosllm

MODULES = [
    f"chaosllm.{package}.{kind}"
    for package in chaosllm.ACTIVITY_PACKAGES
    for kind in ("actions", "probes", "tolerances")
    if chaosllm._existing(f"chaosllm.{package}.{kind}")
]
JSON_BLOCK = re.compile(r"```json\s*\n(.*?)```", re.S)
# Chaos Toolkit passes the probe's value to a tolerance itself.
INJECTED = {"value"}


def _providers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "module" in node and "func" in node:
            yield node
        for child in node.values():
            yield from _providers(child)
    elif isinstance(node, list):
        for child in node:
            yield from _providers(child)


def _problems(provider: dict[str, Any]) -> list[str]:
    where = f"{provider['module']}.{provider['func']}"
    try:
        module = importlib.import_module(provider["module"])
    except ImportError:
        return [f"unknown module {provider['module']}"]
    func = getattr(module, provider["func"], None)
    if func is None or provider["func"] not in getattr(module, "__all__", ()):
        return [f"unknown function {where}"]
    params = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    arguments = provider.get("arguments") or {}
    problems = [f"{where} has no argument {name!r}" for name in arguments if name not in params]
    problems += [
        f"{where} example lacks required argument {name!r}"
        for name, p in params.items()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and name not in INJECTED
        and name not in arguments
    ]
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_json_examples_match_the_signatures(name: str) -> None:
    module = importlib.import_module(name)
    problems = []
    for func_name in module.__all__:
        doc = inspect.getdoc(getattr(module, func_name)) or ""
        blocks = JSON_BLOCK.findall(doc)
        if not blocks:
            problems.append(f"{func_name}: no ```json example")
        shown = False
        for block in blocks:
            try:
                example = json.loads(block)
            except json.JSONDecodeError as exc:
                problems.append(f"{func_name}: example is not valid JSON: {exc}")
                continue
            for provider in _providers(example):
                shown |= (provider["module"], provider["func"]) == (name, func_name)
                problems += [f"{func_name}: {p}" for p in _problems(provider)]
        if blocks and not shown:
            problems.append(f"{func_name}: no example calls {name} {func_name}")
    assert not problems, "\n".join(problems)


def test_checker_catches_a_wrong_argument() -> None:
    provider = {"module": "chaosllm.redis.actions", "func": "expire_keys",
                "arguments": {"patern": "catalog:*"}}  # fmt: skip
    assert _problems(provider) == [
        "chaosllm.redis.actions.expire_keys has no argument 'patern'",
        "chaosllm.redis.actions.expire_keys example lacks required argument 'pattern'",
    ]
    assert _problems({"module": "chaosllm.redis.actions", "func": "pause"}) == [
        "unknown function chaosllm.redis.actions.pause"
    ]
