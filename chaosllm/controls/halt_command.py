"""``chaosllm halt``: the emergency stop for chaos on this machine and, with ``--cluster``, in the cluster.

Halting writes ``$CHAOSLLM_STATE_DIR/halt.json`` (who, when, why): every
running ``chaos run`` that uses the rollbacks control sees it within a tick
and aborts the way the guard aborts (its rollbacks run), every fault in the
ledger is restored, and new runs and new lasting faults are refused until
``chaosllm halt --lift``. Every halt and lift is written to the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
import time
from typing import Any

from logzero import logger

__all__ = ["register", "halt", "lift"]

# How long the command waits, by default, for running experiments to stop.
DEFAULT_WAIT = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "halt",
        help="stop all chaos here (and in the cluster) and refuse new runs until lifted",
        description=(
            "Halt chaos on this machine: abort every running 'chaos run' that uses the "
            "chaosllm.controls.rollbacks control (its rollbacks run), restore every fault in "
            "the fault ledger, and refuse new runs and new faults until 'chaosllm halt --lift'. "
            "With --cluster, also pause and remove every chaosllm-managed Chaos Mesh object in "
            "the current Kubernetes context and record the halt in the ConfigMap chaosllm-halt "
            "of --namespace, which runs that set halt_namespace honour. Every halt and lift is "
            "written to the audit log. Exit 0 when everything stopped, 1 otherwise."
        ),
        epilog=(
            "examples:\n"
            '  chaosllm halt --reason "checkout errors in production"\n'
            '  chaosllm halt --cluster --namespace chaos-system --reason "incident 4711"\n'
            "  chaosllm halt --json\n"
            "  chaosllm halt --lift\n"
            "  chaosllm halt --lift --cluster --namespace chaos-system"
        ),
    )
    parser.add_argument("--reason", default="", help="why chaos is halted (shown to every refused run)")
    parser.add_argument("--lift", action="store_true", help="lift the halt: runs may start again")
    parser.add_argument("--cluster", action="store_true",
                        help="also halt (or lift) chaos in the current Kubernetes context")
    parser.add_argument("--namespace", metavar="NS",
                        help="namespace of the ConfigMap chaosllm-halt (default: the setting "
                             "halt_namespace, $CHAOSLLM_HALT_NAMESPACE)")  # fmt: skip
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                        help="how long to wait for running experiments to stop (default %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print only a JSON summary on stdout (the narrative goes to stderr)")
    parser.set_defaults(handler=_run)


def _by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def halt(reason: str, wait: float = DEFAULT_WAIT) -> dict[str, Any]:
    """Halt chaos on this machine; returns what was stopped and restored."""
    from chaosllm.controls.audit import record_event
    from chaosllm.faults.halt import set_halt
    from chaosllm.faults.ledger import cleanup
    from chaosllm.faults.runs import running_runs

    started = time.monotonic()
    state, new = set_halt(reason or "no reason given", _by(), socket.gethostname())
    runs = running_runs()  # each aborts itself within a tick of seeing the halt
    restored = cleanup()
    pending = {r["run"]: r for r in runs}
    stopped: list[dict[str, Any]] = []
    while pending and time.monotonic() - started < wait:
        alive = {r["run"] for r in running_runs()}
        for run_id in [k for k in pending if k not in alive]:
            stopped.append({**pending.pop(run_id), "seconds": round(time.monotonic() - started, 3)})
        time.sleep(0.02)
    done = [i for i in restored if i.get("removed")]
    failed = [i for i in restored if i.get("error")]
    result = {
        "halted": True, "new": new, **{k: state.get(k) for k in ("reason", "by", "at")},
        "runs": stopped, "still_running": list(pending.values()), "restored": done, "failed": failed,
    }  # fmt: skip
    record_event("halt", {"scope": "local", "reason": state.get("reason"), "new": new,
                          "runs_stopped": len(stopped), "runs_still_running": len(pending),
                          "faults_restored": len(done), "faults_failed": len(failed)})  # fmt: skip
    return result


def lift(reason: str = "") -> dict[str, Any]:
    """Lift the halt on this machine; returns the halt that was lifted (None if none held)."""
    from chaosllm.controls.audit import record_event
    from chaosllm.faults.halt import lift_halt

    lifted = lift_halt()
    record_event("lift", {"scope": "local", "reason": reason or None,
                          "lifted": lifted})  # fmt: skip
    return {"lifted": lifted}


def _cluster(args: argparse.Namespace) -> dict[str, Any]:
    """The cluster part; ``{"error": ...}`` when it cannot be done."""
    from chaosllm.settings import get_setting

    namespace = get_setting("halt_namespace", args.namespace)
    if not namespace:
        return {"error": "--cluster needs the namespace of the ConfigMap chaosllm-halt: pass "
                         "--namespace, or set halt_namespace ($CHAOSLLM_HALT_NAMESPACE)"}  # fmt: skip
    from chaosllm.chaosmesh import sweep
    from chaosllm.controls.audit import record_event

    try:
        if args.lift:
            outcome: Any = sweep.lift_cluster(state_namespace=namespace)
        else:
            outcome = sweep.halt_cluster(reason=args.reason or "no reason given", by=_by(), namespace=None,
                                         state_namespace=namespace)  # fmt: skip
    except Exception as exc:
        return {"error": f"the cluster halt failed: {exc}"}
    record_event("lift" if args.lift else "halt", {"scope": "cluster", "namespace": namespace,
                                                    "reason": args.reason or None,
                                                    "outcome": outcome})  # fmt: skip
    return {"namespace": namespace, "outcome": outcome}


def _run(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    result: dict[str, Any] = lift(args.reason) if args.lift else halt(args.reason, args.wait)
    code = 0
    if args.lift:
        lifted = result["lifted"]
        say(f"halt lifted (it was set at {lifted.get('at')} by {lifted.get('by')}: "
            f"{lifted.get('reason')}); runs may start again" if lifted
            else "no halt held on this machine; nothing to lift")  # fmt: skip
    else:
        _say_halt(result, say)
        code = 1 if result["still_running"] or result["failed"] else 0
    if args.cluster:
        cluster = _cluster(args)
        result["cluster"] = cluster
        if "error" in cluster:
            logger.error(f"chaosllm halt: error: {cluster['error']}")
            code = 1
        else:
            say(f"cluster ({cluster['namespace']}): {'lifted' if args.lift else 'halted'}: "
                f"{json.dumps(cluster['outcome'], default=str)}")  # fmt: skip
    if args.json:
        print(json.dumps(result, default=str))
    return code


def _say_halt(result: dict[str, Any], say: Any) -> None:
    say(f"chaos halted on this machine {'now' if result['new'] else 'since ' + str(result['at'])} "
        f"by {result['by']} (reason: {result['reason']})")  # fmt: skip
    for run in result["runs"]:
        say(f"  aborted run {run['run']} ({run.get('title')}) in {run['seconds']:.2f} s")
    for run in result["still_running"]:
        say(f"  STILL RUNNING {run['run']} ({run.get('title')}), PID {run['pid']}")
    for item in result["restored"]:
        say(f"  restored {item['id']}: {item.get('description', '')}")
    for item in result["failed"]:
        say(f"  FAILED   {item['id']}: {item.get('error')}")
    if not (result["runs"] or result["still_running"] or result["restored"] or result["failed"]):
        say("  no run and no fault was in progress")
    say("new runs and faults are refused until: chaosllm halt --lift")
