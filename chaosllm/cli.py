"""The ``chaosllm`` command.

Subcommands are registered by small ``command.py`` modules next to the code
they drive (``chaosllm.report.command``, ``chaosllm.proxy.command``, ...);
each exposes ``register(subparsers)`` and keeps heavy imports inside its
handler so that ``chaosllm --help`` stays fast.

What a command produces (tables, JSON, reports) goes to stdout as before;
progress, warnings and errors go through ``logzero.logger`` to stderr, set up
the way Chaos Toolkit's own CLI sets up its console: plain messages, coloured
on a terminal, and with ``--verbose`` debug records with their time and origin
(an error's traceback among them).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from logzero import logger

from chaosllm import __version__

__all__ = ["main", "build_parser"]

COMMAND_MODULES = (
    "chaosllm.report.command",
    "chaosllm.proxy.command",
    "chaosllm.sandbox.command",
    "chaosllm.controls.command",
    "chaosllm.controls.halt_command",
    "chaosllm.workflow.command",
)


class HelpFormatter(argparse.HelpFormatter):
    """Fill descriptions as usual, but keep an ``examples:`` epilog line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    # Subparsers do not inherit formatter_class, so set it on the whole tree.
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _use_formatter(child)


def _cleanup(args: argparse.Namespace) -> int:
    from chaosllm.faults import Ledger, cleanup, state_dir
    from chaosllm.redaction import redact_text

    # With --json, stdout carries only the JSON document; the narrative goes to stderr.
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        # Entries recorded by an older version may name a URL with its password.
        print(redact_text(text), file=out)

    if args.cluster:
        return _cleanup_cluster(args, say)
    if args.namespace or args.all:
        say("error: --namespace and --all go with --cluster")
        return 2
    path = state_dir(create=False) / "ledger.json"
    if not path.exists():  # nothing was ever recorded here: create nothing either
        say(f"nothing to restore (no fault ledger at {path})")
        if args.forget:
            say("  no entry " + ", ".join(args.forget) + f" in {path}")
        if args.json:
            print(json.dumps({"forgotten": 0, "missing": len(args.forget)} if args.forget
                             else {"restored": 0, "failed": 0}))
        return 1 if args.forget else 0
    ledger = Ledger(path)
    if args.forget:
        return _forget(ledger, args.forget, say, args.json)
    pending = ledger.entries()
    if not pending:
        say(f"nothing to restore (ledger {ledger.path} is empty)")
        if args.json:
            print(json.dumps({"restored": 0, "failed": 0}))
        return 0
    say(f"restoring {len(pending)} fault(s) from {ledger.path}")
    return _restore_all(cleanup(ledger), len(pending), say, args.json)


def _restore_all(results: list[dict[str, Any]], pending: int, say: Callable[[str], None],
                 as_json: bool) -> int:
    failed = 0
    for item in results:
        if item.get("removed"):
            say(f"  restored {item['id']}: {item.get('description', '')}")
        elif "error" not in item:
            # Its healer restored it between the listing and now.
            say(f"  restored {item['id']}: already restored by its healer")
        else:
            failed += 1
            say(f"  FAILED   {item['id']}: {item.get('error', 'unknown error')}")
    if failed:
        say("a fault whose target is gone for good (its server was removed) can be "
            "dropped without restoring it: chaosllm cleanup --forget ID")  # fmt: skip
    if as_json:
        print(json.dumps({"restored": pending - failed, "failed": failed}))
    return 1 if failed else 0


def _cleanup_cluster(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Restore faults from the ledger's Secrets in the cluster: those past their deadline
    (their runner and its healer are gone), or every one with --all."""
    import time

    from chaosllm.errors import ChaosLLMError
    from chaosllm.faults.cluster import SETTING, ledger_namespace
    from chaosllm.faults.ledger import ClusterLedger, cleanup
    from chaosllm.settings import env_name

    namespace = ledger_namespace(args.namespace)
    if not namespace:
        say(f"error: name the namespace of the fault ledger's Secrets with --namespace or "
            f"${env_name(SETTING)}")
        return 2
    ledger = ClusterLedger(namespace)
    try:
        if args.forget:
            return _forget(ledger, args.forget, say, args.json)
        pending = ledger.entries()
        chosen = None if args.all else time.time() - args.grace
        due = [e for e in pending.values() if chosen is None
               or (isinstance(e.get("deadline"), (int, float)) and e["deadline"] < chosen)]
        waiting = len(pending) - len(due)
        say(f"restoring {len(due)} fault(s) from the Secrets in namespace {namespace}"
            + (f"; {waiting} not past their deadline yet (--all restores them too)" if waiting else ""))
        return _restore_all(cleanup(ledger, expired_before=chosen), len(due), say, args.json)
    except ChaosLLMError as exc:
        say(f"error: {exc}")
        return 1


def _forget(ledger: Any, entry_ids: list[str], say: Callable[[str], None], as_json: bool) -> int:
    missing = 0
    for entry_id in entry_ids:
        # Its healer sees the entry gone and exits within a second.
        entry = ledger.pop(entry_id)
        if entry is None:
            missing += 1
            say(f"  no entry {entry_id} in {ledger.path}")
        else:
            description = entry.get("description", "") if isinstance(entry, dict) else ""
            say(f"  forgot   {entry_id}: {description} (not restored)")
    if as_json:
        print(json.dumps({"forgotten": len(entry_ids) - missing, "missing": missing}))
    return 1 if missing else 0


def _docs(args: argparse.Namespace) -> int:
    from chaosllm.docs import render_activities

    text = render_activities()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        logger.info(f"wrote {args.output}")
    return 0


def configure_logging(verbose: bool = False) -> None:
    """Console logging for one run of the command, on the ``sys.stderr`` of that run."""
    import logzero

    if verbose:
        fmt = "%(color)s[%(asctime)s %(levelname)s] [%(module)s:%(lineno)d]%(end_color)s %(message)s"
    else:
        fmt = "%(color)s%(message)s%(end_color)s"
    logzero.loglevel(logging.DEBUG if verbose else logging.INFO)
    logzero.formatter(logzero.LogFormatter(fmt=fmt, datefmt="%Y-%m-%d %H:%M:%S"))
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            # logzero binds its handler to the stderr of its first use; follow the current
            # one (not setStream, which flushes the old stream, perhaps closed by now)
            handler.stream = sys.stderr


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaosllm",
        description=(
            "chaosllm: Chaos Toolkit extension for Chaos Mesh, Redis, PostgreSQL, "
            "RabbitMQ and local faults, with SLO guards and reports. Activities are "
            "used from experiments run with 'chaos run'; this command covers the rest. "
            "'chaosllm COMMAND --help' describes each command."
        ),
        epilog=(
            "examples:\n"
            '  chaosllm sandbox up && eval "$(chaosllm sandbox env)"\n'
            "  chaos run --journal-path journals/cache.json experiments/application/cache-failure.json\n"
            "  chaosllm report journals/cache.json --out reports/\n"
            "  chaosllm cleanup            # restore faults a killed run left behind\n"
            '  chaosllm halt --reason "incident"   # stop all chaos here; --lift to allow it again'
        ),
    )
    parser.add_argument("--version", action="version", version=f"chaosllm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug records too, with their time and origin")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cleanup = sub.add_parser(
        "cleanup",
        help="restore every fault left in the fault ledger",
        description=(
            "Restore every fault recorded in the durable fault ledger "
            "($CHAOSLLM_STATE_DIR, default ~/.chaosllm), for example after a 'chaos run' "
            "was killed. Running it twice is safe: the second run restores nothing. "
            "Exit 1 when a fault could not be restored (it stays in the ledger)."
        ),
        epilog=(
            "examples:\n  chaosllm cleanup\n"
            "  CHAOSLLM_STATE_DIR=/var/lib/chaos chaosllm cleanup --json\n"
            "  chaosllm cleanup --forget 'maxmemory@redis 127.0.0.1:6390'\n"
            "  chaosllm cleanup --cluster --namespace chaosllm   # faults of runners that died"
        ),
    )
    cleanup.add_argument("--json", action="store_true",
                         help="print only a JSON summary on stdout (the narrative goes to stderr)")
    cleanup.add_argument(
        "--forget", action="append", metavar="ID", default=[],
        help="drop this ledger entry without restoring it (its target is gone); repeatable",
    )  # fmt: skip
    cleanup.add_argument(
        "--cluster", action="store_true",
        help="restore from the ledger's Secrets in the cluster (written by runners in pods or "
             "with $CHAOSLLM_LEDGER_NAMESPACE): the faults past their deadline, whose runner died",
    )  # fmt: skip
    cleanup.add_argument("--namespace", metavar="NS",
                         help="with --cluster: the namespace of those Secrets "
                              "(default: $CHAOSLLM_LEDGER_NAMESPACE)")
    cleanup.add_argument("--all", action="store_true",
                         help="with --cluster: restore every fault there, also those not past "
                              "their deadline (only when their runners are gone)")
    cleanup.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                         help="with --cluster: how long past its deadline a fault's own healer "
                              "has to restore it first (default: %(default)s)")
    cleanup.set_defaults(handler=_cleanup)

    docs = sub.add_parser(
        "docs",
        help="generate docs/ACTIVITIES.md from discovery",
        description="Write the reference of every action and probe, generated from discovery.",
        epilog="examples:\n  chaosllm docs -o docs/ACTIVITIES.md\n  chaosllm docs -o - | less",
    )
    docs.add_argument("-o", "--output", default="docs/ACTIVITIES.md", help="file, or - for stdout")
    docs.set_defaults(handler=_docs)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A command whose package is not installed is simply not offered.
            if not (exc.name and module_name.startswith(exc.name)):
                raise
            continue
        module.register(sub)
    _use_formatter(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    handler: Any = getattr(args, "handler", None)
    if handler is None:
        # A command group without its subcommand: show that group's help.
        (getattr(args, "group_parser", None) or parser).print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
    except Exception as exc:
        from chaoslib.exceptions import ChaosException

        if isinstance(exc, OSError) and exc.filename:
            logger.debug("details", exc_info=True)
            logger.error(f"chaosllm {args.command}: error: {exc.filename}: {exc.strerror}")
            return 1
        if isinstance(exc, ChaosException | OSError | ValueError):
            logger.debug("details", exc_info=True)
            logger.error(f"chaosllm {args.command}: error: {exc}")
            return 1
        raise

if __name__ == "__main__":
    sys.exit(main())
