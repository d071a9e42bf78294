"""``chaosllm sandbox up|down|status|env``: the local reference stack."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register"]


Handler = Callable[[argparse.Namespace], int]


def _show(value: Any) -> str:
    """JSON for stdout with every credential masked (the RabbitMQ management password,
    URL passwords): only the shell exports of 'sandbox env' carry them, for eval."""
    from chaosllm.redaction import redact_value

    return json.dumps(redact_value(value), indent=2)


def _error(args: argparse.Namespace, message: str) -> int:
    print(f"chaosllm sandbox {args.sandbox_command}: error: {message}", file=sys.stderr)
    return 1


def _reporting(handler: Handler) -> Handler:
    """Print a damaged state file, a sandbox already running, a missing server binary
    or any other known failure as one error line, exit 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from chaoslib.exceptions import ChaosException

        try:
            return handler(args)
        except OSError as exc:
            return _error(args, f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        except (ChaosException, RuntimeError) as exc:
            from chaosllm.redaction import redact_text

            return _error(args, redact_text(str(exc)))

    return run


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "sandbox",
        help="start, inspect and stop the local LLM-marketplace sandbox",
        description=(
            "The sandbox: a GraphQL gateway (2+ replicas under a supervisor), ml-recs, an "
            "order worker, PostgreSQL, Redis, RabbitMQ, the fault proxy and Prometheus, on "
            "free loopback ports. State and logs live in $CHAOSLLM_STATE_DIR/sandbox."
        ),
    )
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, help="run directory (default $CHAOSLLM_SANDBOX_DIR, "
                        "else $CHAOSLLM_STATE_DIR/sandbox)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    up = sub.add_parser("up", parents=[common], help="start every service and wait until ready",
                        description="Start the sandbox and say how to point chaosllm "
                        "activities at it ('chaosllm sandbox env'). With --json, print its "
                        "state with every password masked. A sandbox already running in the "
                        "directory is left alone: exit 1 with one line saying so.")  # fmt: skip
    up.add_argument("--replicas", type=int, default=2, help="gateway replicas to start (default 2)")
    up.add_argument("--memory-limit-mb", type=int, default=1024,
                    help="the sandbox's memory limit that stress scenarios size against")  # fmt: skip
    up.set_defaults(handler=_reporting(_up))

    down = sub.add_parser("down", parents=[common], help="stop every sandbox process by PID",
                          description="Stop every process recorded in the sandbox state file. "
                          "Exit 0 when nothing is left running (also when there is no sandbox), "
                          "1 when something still runs or the state file is damaged (then only "
                          "its well-formed entries are stopped).")  # fmt: skip
    down.set_defaults(handler=_reporting(_down))

    status = sub.add_parser("status", parents=[common], help="show which processes and ports are up",
                            description="Check every recorded PID and port; exit 0 whether "
                            "or not the sandbox runs (see 'running' in --json), 1 when its state "
                            "file is damaged.")  # fmt: skip
    status.set_defaults(handler=_reporting(_status))

    env = sub.add_parser("env", parents=[common], help="print shell exports for the running sandbox",
                         description="Print 'export CHAOSLLM_...=...' lines; use with eval. "
                         "These lines are the one output that carries the sandbox's "
                         "credentials (such as the RabbitMQ password in its URLs); with "
                         "--json, an object of the variables with every password masked. "
                         "Exit 1 when the sandbox is not running.")  # fmt: skip
    env.set_defaults(handler=_reporting(_env))


def _up(args: argparse.Namespace) -> int:
    from chaosllm.sandbox.app import stack

    state = stack.up(args.dir, replicas=args.replicas, memory_limit_mb=args.memory_limit_mb,
                     progress=(lambda _: None) if args.json else print)  # fmt: skip
    if args.json:
        print(_show(state))
    else:
        print(f"sandbox is up in {state['dir']}; gateway {state['settings']['gateway_url']}/graphql")
        print(f"point experiments at it with: eval \"$(chaosllm sandbox env --dir {state['dir']})\"")
    return 0


def _down(args: argparse.Namespace) -> int:
    from chaosllm.sandbox.app import stack

    result = stack.down(args.dir, progress=(lambda _: None) if args.json else print)
    if args.json:
        print(_show(result))
    elif not result["found"]:
        print(f"no sandbox in {result['dir']}")
    elif result["running"]:
        print("still running: " + ", ".join(r["name"] for r in result["running"]))
    else:
        print("nothing left running of what the state file identifies" if result["damaged"]
              else "nothing running")  # fmt: skip
    if result["damaged"]:
        _error(args, f"could not stop everything: {result['damaged']}")
    return 1 if result["running"] or result["damaged"] else 0


def _status(args: argparse.Namespace) -> int:
    from chaosllm.sandbox.app.state import status

    result = status(args.dir)
    if args.json:
        print(_show(result))
        return 0
    if not result["found"]:
        print(f"no sandbox in {result['dir']}")
        return 0
    for row in result["services"]:
        state = "running" if row["running"] else "stopped"
        ports = ",".join(map(str, row["open_ports"])) or "-"
        print(f"{row['name']:<11} {state:<8} pid {row['pid']:<8} open ports {ports:<24} {row['url']}")
    print("sandbox is running" if result["running"] else "nothing running, no port open")
    return 0


def _env(args: argparse.Namespace) -> int:
    import shlex

    from chaosllm.sandbox.app.state import read_state, settings_env, status

    result = status(args.dir)
    if not result["found"]:
        return _error(args, f"no sandbox in {result['dir']} (run 'chaosllm sandbox up')")
    variables = settings_env(read_state(args.dir))
    if not result["running"] or not variables:
        return _error(args, f"the sandbox in {result['dir']} is not running (run 'chaosllm sandbox up')")
    if args.json:
        print(_show(variables))
        return 0
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0
