"""The files ``chaosllm workflow`` reads: its inputs, and the control file of ``--control-file``.

Chaos Toolkit's ``chaos run --control-file FILE`` reads a mapping of control
names to controls (the entries of the settings file's ``controls``), as YAML
when the file ends in ``.yaml``/``.yml`` and as JSON when it ends in
``.json``; it cannot read a file with any other extension.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chaosllm.errors import InvalidArgument

__all__ = ["read_document", "read_control_file", "control_file_key"]


def read_document(path: str, what: str = "") -> tuple[str, Any]:
    """The file's text and what it holds: JSON when it ends in ``.json``, else YAML.
    Errors name the file (``what`` goes before its path, such as "the control file ")."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"could not read {what}{path}: {exc.strerror or exc}") from None
    try:
        return text, json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        language = "JSON" if path.endswith(".json") else "YAML"
        raise InvalidArgument(f"{what}{path} is not valid {language}: {exc}") from None


def read_control_file(path: str) -> str:
    """The control file's text; refused unless it is a mapping of control names to controls."""
    text, document = read_document(path, "the control file ")
    if not isinstance(document, dict):
        raise InvalidArgument(f"the control file {path} must be a mapping of control names to controls "
                              f"(as chaos run --control-file reads it), got {type(document).__name__}")
    if not document:
        raise InvalidArgument(f"the control file {path} declares no control")
    for name, control in document.items():
        if not isinstance(control, dict) or not isinstance(control.get("provider"), dict):
            raise InvalidArgument(f"the control file {path}: control {name!r} must be a mapping with a "
                                  "'provider' mapping")  # fmt: skip
    return text


def control_file_key(path: str, taken: set[str]) -> str:
    """The control file's ConfigMap key: its name, with the extension chaos run needs to read it."""
    base = re.sub(r"[^-._a-zA-Z0-9]+", "-", Path(path).name).strip("-.") or "controls"
    if Path(base).suffix not in (".yaml", ".yml", ".json"):
        base += ".yaml"  # YAML reads JSON too
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{n}-{base}"
    return key
