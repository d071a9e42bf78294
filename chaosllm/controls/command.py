"""``chaosllm audit verify`` and ``chaosllm approve``: the CLI side of the safety controls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from logzero import logger

__all__ = ["register"]


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="check the hash-chained audit log",
        description="Commands for the audit log written by chaosllm.controls.audit.",
    )
    audit.set_defaults(group_parser=audit)
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    verify = audit_sub.add_parser(
        "verify",
        help="find edited, removed, reordered, forged or cut-off entries",
        description=(
            "Check every entry against the chain and, with the key, its HMAC and the log's "
            "head record (FILE.head). The key comes from CHAOSLLM_AUDIT_KEY, --key-file or "
            "the approval key (CHAOSLLM_APPROVAL_KEY_FILE, CHAOSLLM_APPROVAL_KEY), never from "
            "the command line. Exit 0 when the log is intact and proven, 1 when it was tampered "
            "with, 3 when it cannot be proven (a keyed log without the key, or an unkeyed log)."
        ),
        epilog=(
            "examples:\n"
            "  CHAOSLLM_AUDIT_KEY=$(cat key) chaosllm audit verify ~/.chaosllm/audit.jsonl\n"
            "  chaosllm audit verify audit.jsonl --key-file /etc/chaosllm/audit.key\n"
            "  chaosllm audit verify audit.jsonl --json | jq .status"
        ),
    )
    verify.add_argument("file", help="the audit log (JSON Lines)")
    verify.add_argument("--head", help="the hash the last entry must have")
    verify.add_argument("--key-file", help="file holding the audit key")
    verify.add_argument(
        "--json", action="store_true",
        help='print one JSON object instead: {"file", "entries", "keyed", "status", "intact", '
             '"head", "problems", "unproven"} (status: intact, tampered, unproven or unkeyed; head '
             "is null when the log was tampered with); errors still go to stderr",
    )  # fmt: skip
    verify.set_defaults(handler=_verify)

    approve = subparsers.add_parser(
        "approve",
        help="sign an approval to run an experiment on a protected environment",
        description=(
            "Write an approval of this exact run: the experiment and its configuration as "
            "chaos run resolves it (give the same --var and --var-file, and the same "
            "environment variables), signed with HMAC-SHA256. The key is read from the file "
            "in CHAOSLLM_APPROVAL_KEY_FILE or --key-file, or from CHAOSLLM_APPROVAL_KEY, never "
            "from the command line. The approval allows --max-uses runs (default 1)."
        ),
        epilog=(
            "examples:\n"
            "  CHAOSLLM_APPROVAL_KEY=$(cat key) chaosllm approve experiment.json \\\n"
            "      --approver alice --expires-in 2h -o approval.json\n"
            "  chaosllm approve experiment.json --approver bob --var duration=30s \\\n"
            "      --max-uses 3 --key-file /etc/chaosllm/approval.key -o approval.json"
        ),
    )
    approve.add_argument("experiment", help="the experiment file (JSON or YAML)")
    approve.add_argument("--approver", required=True, help="who approves (recorded in the approval)")
    approve.add_argument(
        "--environment",
        help="the protected environment the approval is for (default: the experiment's "
             "configured environment, else production)",
    )  # fmt: skip
    approve.add_argument("--expires-in", default="24h", help="validity, e.g. 2h or 30m (default 24h)")
    approve.add_argument("--max-uses", type=int, default=1, help="runs the approval allows (default 1)")
    approve.add_argument("--var", action="append", default=[], metavar="KEY[:TYPE]=VALUE",
                         help="a configuration value, as chaos run --var")  # fmt: skip
    approve.add_argument("--var-file", action="append", default=[], metavar="FILE",
                         help="a file of configuration values, as chaos run --var-file")  # fmt: skip
    approve.add_argument("--key-file", help="file holding the HMAC key")
    approve.add_argument("-o", "--output", default="-", help="approval file, or - for stdout")
    approve.set_defaults(handler=_approve)


def _verify(args: argparse.Namespace) -> int:
    from chaosllm.controls._auditlog import audit_key
    from chaosllm.controls._auditverify import EXIT_CODES, verify_log

    try:
        key = Path(args.key_file).read_text(encoding="utf-8").strip() if args.key_file else audit_key()
        verdict = verify_log(Path(args.file), args.head, key or None)
    except OSError as exc:
        logger.error(f"chaosllm audit verify: error: {args.file}: {exc.strerror}")
        return 1
    except ValueError as exc:
        logger.error(f"chaosllm audit verify: error: {exc}")
        return 1
    status = verdict["status"]
    if args.json:
        print(json.dumps({"file": args.file, **verdict, "intact": status == "intact"}))
        return EXIT_CODES[status]
    for problem in verdict["problems"]:
        print(f"{args.file}: {problem}")
    count = verdict["entries"]
    if status == "tampered":
        print(f"{args.file}: audit log TAMPERED ({len(verdict['problems'])} problem(s) in {count} entries)")
    elif status == "intact":
        print(f"{args.file}: {count} entries, keyed chain intact, head {verdict['head']}")
    else:
        print(f"{args.file}: {count} entries, chain consistent but {status.upper()}: "
              f"{' '.join(verdict['unproven'])}; head {verdict['head']}")  # fmt: skip
    return EXIT_CODES[status]


def _check_experiment(path: str, data: Any) -> dict[str, Any]:
    """``data`` if it has an experiment's shape; ValueError saying why not."""
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an experiment")
    if "title" not in data and "experiment" in data and ("run" in data or "status" in data):
        raise ValueError(
            f"{path} is not an experiment: this looks like a journal (it has experiment, "
            "run and status keys); approve the experiment file it ran instead"
        )
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise ValueError(f"{path} is not an experiment: it has no title")
    if not isinstance(data.get("method"), list):
        raise ValueError(f"{path} is not an experiment: it has no method list")
    return data


def _load_experiment(path: str) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "cannot be parsed"
            raise ValueError(f"experiment {path} is not valid YAML: {problem}{where}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"experiment {path} is not valid JSON: {exc}") from None
    return _check_experiment(path, data)


def _expiry(value: str) -> datetime:
    from chaosllm.faults import parse_duration

    seconds = parse_duration(value, "--expires-in")  # bounded: "too long" is refused there
    if seconds < 1:
        raise ValueError(f"--expires-in {value} is too short: the approval would expire at once")
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _key(key_file: str | None) -> str:
    from chaosllm.controls._approvals import KEY_ENV, KEY_FILE_ENV, operator_key

    if key_file:
        key = Path(key_file).read_text(encoding="utf-8").strip()
    else:
        key = operator_key() or ""
    if not key:
        raise ValueError(f"no key: set {KEY_ENV} or {KEY_FILE_ENV}, or pass --key-file")
    return key


def _approve(args: argparse.Namespace) -> int:
    from chaoslib import convert_vars

    from chaosllm.controls._approvals import resolved_configuration
    from chaosllm.controls.approval import sign_approval

    for flag, value in (("--approver", args.approver), ("--environment", args.environment)):
        if value is not None and not value.strip():
            raise ValueError(f"{flag} must not be empty")
    expires = _expiry(args.expires_in)
    key = _key(args.key_file)
    experiment = _load_experiment(args.experiment)
    try:
        configuration = resolved_configuration(experiment, convert_vars(args.var), args.var_file)
    except Exception as exc:  # noqa: BLE001 - chaoslib's own errors: say them as ours
        raise ValueError(f"cannot resolve the configuration of {args.experiment}: {exc}") from None
    environment = args.environment or configuration.get("environment")
    if not isinstance(environment, str) or not environment.strip():
        environment = "production"
    approval = sign_approval(experiment, args.approver, environment, expires, key, configuration,
                             args.max_uses)  # fmt: skip
    text = json.dumps(approval, indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        logger.info(f"wrote {args.output}: {args.approver} approves {args.experiment} on "
                    f"{approval['environment']} until {approval['expires_at']}, "
                    f"{approval['max_uses']} run(s)")  # fmt: skip
    return 0
