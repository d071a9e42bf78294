"""The blast-radius policy, found wherever it is given: one function for every action and the control.

Every fault action (Chaos Mesh and application) calls :func:`blast_radius_from`
inside itself before its first change, whatever module path reached it, and
so does the blast-radius control before the run starts. The first place that
gives a policy is the policy; the others are not read:

1. the ``policy`` argument of the call (the control passes its own);
2. the policy of this run's blast-radius control: the control's ``policy``
   argument, which its ``configure_control`` puts into the run's
   configuration under :data:`RUN_KEY` so that every action of the run sees
   it (Chaos Toolkit hands each activity a copy of that configuration);
3. the ``policy`` argument of a blast-radius control declared in the Chaos
   Toolkit settings file (or a ``--control-file``), read from Chaos Toolkit's
   loaded controls, so that it holds even for an action the control never
   saw (when that control was initialised, it is also place 2);
4. the secret ``blast_radius``;
5. the configuration key ``blast_radius``;
6. the environment variable ``$CHAOSLLM_BLAST_RADIUS`` (JSON).

The policy is one JSON document, validated against ``blast_radius.schema.json``
beside this module (the Chaos Mesh keys at the top, one section per
application backend)::

    {"allowed_namespaces": ["shop"], "forbidden_namespaces": ["payments"],
     "required_labels": {"chaos-ready": "true"}, "max_percent": 50, "max_count": 3,
     "redis": {"key_patterns": ["sandbox:*"], "max_keys": 1000},
     "proxy": {"proxies": ["sandbox-*"]}, "stress": {"kinds": ["cpu"], "max_workers": 2}}

A malformed policy (a wrong type, a string where a list belongs, a numeric
string, NaN, an empty namespace) is a :class:`ConfigurationError` naming
where it came from and every key at fault.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosllm.errors import ConfigurationError
from chaosllm.schemas import validated_setting
from chaosllm.settings import env_name

__all__ = ["SETTING", "RUN_KEY", "CONTROL_MODULE", "SCHEMA", "BlastRadius", "blast_radius_from",
           "run_scoped"]  # fmt: skip

SETTING = "blast_radius"
# The configuration key under which the control hands its policy argument to the run's actions.
RUN_KEY = "chaosllm_blast_radius_control"
CONTROL_MODULE = "chaosllm.controls.blast_radius"
SCHEMA = Path(__file__).with_name("blast_radius.schema.json")
ARGUMENT = "the control's policy argument"
RUN_SOURCE = "the blast-radius control's policy argument"


@dataclass(frozen=True)
class BlastRadius:
    """The validated policy document and where it came from (for messages); empty when unset."""

    document: Mapping[str, Any] = field(default_factory=dict)
    source: str = "not set"


def _lookup(source: Mapping[str, Any] | None, key: str) -> Any:
    if not isinstance(source, Mapping):
        return None
    value = source.get(key)
    return source.get(key.upper()) if value is None else value


def _run_files() -> tuple[str | None, str | None]:
    """The settings file and the experiment file of the ``chaos run`` this process is, if any.

    Chaos Toolkit's command line keeps them in its click context (the settings
    path in the root context's ``obj``, the experiment as the ``source``
    parameter); outside it, or in a thread of its own, both are None.
    """
    try:
        import click

        ctx = click.get_current_context(silent=True)
    except ImportError:  # pragma: no cover - click comes with chaostoolkit
        return None, None
    if ctx is None:
        return None, None
    obj = ctx.find_root().obj
    settings = obj.get("settings_path") if isinstance(obj, dict) else None
    source = ctx.params.get("source")
    return (str(settings) if settings else None), (str(source) if source else None)


def _settings_file(settings_path: str | None) -> Iterator[tuple[Any, str]]:
    """The ``policy`` argument of every blast-radius control Chaos Toolkit loaded as global."""
    try:
        from chaoslib.control import get_global_controls
        from chaoslib.settings import get_loaded_settings
    except ImportError:  # pragma: no cover - chaoslib is a dependency
        return
    in_settings = (get_loaded_settings() or {}).get("controls") or {}
    for control in get_global_controls():
        provider = control.get("provider") or {}
        if provider.get("module") == CONTROL_MODULE:
            name = control.get("name", "?")
            where = "the Chaos Toolkit settings file" + (f" {settings_path}" if settings_path else "")
            if name not in in_settings:  # a --control-file, or settings this thread cannot see
                where = "a --control-file" if in_settings else f"{where} or a --control-file"
            policy = (provider.get("arguments") or {}).get("policy")
            yield policy, f"the policy argument of control '{name}' in {where}"


def _places(
    policy: Any, configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None
) -> Iterator[tuple[Any, str]]:
    settings_path, experiment = _run_files()
    of = f" of experiment {experiment}" if experiment else ""
    declared = list(_settings_file(settings_path))
    # The control's own argument: from the settings file when a control declared there gives it.
    argument = next((where for raw, where in declared if raw == policy), ARGUMENT + of)
    yield policy, argument
    yield _lookup(configuration, RUN_KEY), RUN_SOURCE
    yield from declared
    yield _lookup(secrets, SETTING), f"secrets key {SETTING}{of}"
    yield _lookup(configuration, SETTING), f"configuration key {SETTING}{of}"
    yield os.environ.get(env_name(SETTING)), f"${env_name(SETTING)}"


def blast_radius_from(
    policy: Mapping[str, Any] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> BlastRadius:
    """The blast-radius policy of this call, from the first place that gives one (see above).

    A malformed policy is a :class:`ConfigurationError` naming its place and
    every key at fault; nothing is read from the places after it.
    """
    for raw, source in _places(policy, configuration, secrets):
        if raw is None or raw == "":
            continue
        document = validated_setting(raw, SETTING, source, SCHEMA)
        return BlastRadius(document, source)
    return BlastRadius()


def run_scoped(policy: Any, configuration: Any) -> BlastRadius:
    """Validate the control's ``policy`` argument and hand it to every action of the run.

    Two blast-radius controls of one run (the settings file's and the
    experiment's) that give different policies are refused: which one holds
    would otherwise depend on the order Chaos Toolkit initialises them.
    """
    if policy is None or policy == "":
        return blast_radius_from(None, configuration)
    found = blast_radius_from(policy)
    if not isinstance(configuration, dict):
        raise ConfigurationError(
            f"{SETTING} from {ARGUMENT} cannot reach the actions: the run has no configuration "
            f"mapping (got {type(configuration).__name__})"
        )
    earlier = configuration.get(RUN_KEY)
    if earlier is not None and earlier != found.document:
        raise ConfigurationError(
            f"two blast-radius controls of this run give different policies: the configuration key "
            f"{RUN_KEY} holds {earlier!r} (another blast-radius control's, or written in the "
            f"experiment or a --var) and this control gives {dict(found.document)!r}; give the policy "
            f"once"
        )
    configuration[RUN_KEY] = found.document
    return found
