"""Removing and pausing 1,000 Chaos Mesh objects: concurrent against one at a time.

A fake Kubernetes API server (``tests/chaosmesh/fake_k8s.py``, the one the
tests use, in its own process, reached through the real kubernetes client) answers every request
after ``--latency`` (20 ms by default, a cluster across a network) and plays
the Chaos Mesh controller: a deleted fault goes once its finalizer is
dropped, 50 ms later. Each trial starts a fresh server holding ``--objects``
chaosllm-managed PodChaos objects and times:

- remove, concurrent: ``remove_all_chaos`` (deletes 32 at a time, then one
  list and watch per kind until all are gone);
- remove, sequential: the former code path, ``remove()`` per object (delete,
  then read and watch that object until it is gone);
- pause, concurrent: one pause patch per object, 32 at a time;
- pause, sequential: the same patches one after another.

Run: ``python benchmarks/chaosmesh_removal.py`` (``--trials 3``; the
sequential way takes about a minute a trial, ``--sequential-trials`` lowers it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

NAMESPACE = "bench"


def crd_folder() -> Path:
    return Path(os.environ.get("CHAOSLLM_CHAOSMESH_CRDS") or REPO.parent / "shared" / "chaos-mesh" / "crds")


class Cluster:
    """The fake API server in its own process, so that its controller does not share our GIL."""

    def __init__(self, objects: int, latency: float, folder: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.chaosmesh.fake_k8s", "--crds", str(crd_folder()),
             "--latency", str(latency), "--namespace", NAMESPACE, "--faults", str(objects)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        url = self.proc.stdout.readline().strip()
        config = folder / "kubeconfig"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: fake, user: {token: fake-token}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n")
        os.environ["KUBECONFIG"] = str(config)

    def left(self) -> int:
        from chaosllm._clients.k8s import chaos_mesh_api

        with chaos_mesh_api("count") as api:
            return len(api.list("podchaos", NAMESPACE))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def remove_concurrently() -> None:
    from chaosllm.chaosmesh.actions import remove_all_chaos

    assert remove_all_chaos(NAMESPACE)["count"] > 0


def remove_sequentially() -> None:
    from chaosllm._clients.k8s import chaos_mesh_api
    from chaosllm.chaosmesh._bulk import MANAGED_LABEL
    from chaosllm.chaosmesh._kinds import KINDS
    from chaosllm.chaosmesh._submit import remove

    with chaos_mesh_api("remove all chaos") as api:
        for kind in sorted(KINDS.values(), key=lambda k: k.is_chaos):
            for obj in api.list(kind.plural, NAMESPACE, MANAGED_LABEL):
                remove(api, kind.kind, NAMESPACE, obj["metadata"]["name"], False, 30.0)


def pause_concurrently() -> None:
    from chaosllm._clients.k8s import chaos_mesh_api
    from chaosllm.chaosmesh._bulk import pause_managed

    with chaos_mesh_api("pause all chaos") as api:
        paused, failed = pause_managed(api, NAMESPACE)
    assert paused and not failed


def pause_sequentially() -> None:
    from chaosllm._clients.k8s import chaos_mesh_api
    from chaosllm.chaosmesh._bulk import MANAGED_LABEL
    from chaosllm.chaosmesh._status import PAUSE_ANNOTATION

    patch = {"metadata": {"annotations": {PAUSE_ANNOTATION: "true"}}}
    with chaos_mesh_api("pause all chaos") as api:
        for obj in api.list("podchaos", NAMESPACE, MANAGED_LABEL):
            api.merge_patch("podchaos", NAMESPACE, obj["metadata"]["name"], patch)


def timed(work: Callable[[], None], args: argparse.Namespace, folder: Path) -> float:
    cluster = Cluster(args.objects, args.latency, folder)
    try:
        started = time.perf_counter()
        work()
        elapsed = time.perf_counter() - started
        if work in (remove_concurrently, remove_sequentially):
            left = cluster.left()
            assert left == 0, f"{left} object(s) left"
        return elapsed
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each answer")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--sequential-trials", type=int, default=None)
    args = parser.parse_args()
    import chaosk8s  # noqa: F401  (imported before timing: a run imports it once)
    import kubernetes  # noqa: F401

    sequential_trials = args.sequential_trials or args.trials
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHAOSLLM_STATE_DIR"] = str(Path(tmp) / "state")
        rows = []
        for label, concurrent, sequential, target in (
            ("remove", remove_concurrently, remove_sequentially, 5.0),
            ("pause", pause_concurrently, pause_sequentially, 3.0),
        ):
            fast = [timed(concurrent, args, Path(tmp)) for _ in range(args.trials)]
            slow = [timed(sequential, args, Path(tmp)) for _ in range(sequential_trials)]
            rows.append((label, statistics.median(fast), statistics.median(slow), target))
    print(f"{args.objects} objects, every request answered after {args.latency * 1000:.0f} ms, "
          f"median of {args.trials} trial(s) (sequential: {sequential_trials})")
    print(f"{'':8} {'concurrent':>12} {'sequential':>12} {'speed-up':>9} {'target':>8}")
    for label, fast_s, slow_s, target in rows:
        verdict = "met" if fast_s <= target else "MISSED"
        bound = f"<= {target:.0f} s"
        print(f"{label:8} {fast_s:>11.2f}s {slow_s:>11.2f}s {slow_s / fast_s:>8.1f}x "
              f"{bound:>8} {verdict}")


if __name__ == "__main__":
    main()
