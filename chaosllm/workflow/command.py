"""``chaosllm workflow``: render experiments as an Argo chaos pipeline (YAML on stdout or in a file)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _workflow(args: argparse.Namespace) -> int:
    import yaml

    from chaosllm.workflow.render import render_workflow

    fail_on = args.fail_on
    document = render_workflow(
        args.experiments, name=args.name, namespace=args.namespace, image=args.image,
        service_account=args.service_account, parallel=args.parallel, schedule=args.schedule,
        fail_on=fail_on, volume_size=args.volume_size, control_file=args.control_file,
    )  # fmt: skip
    text = yaml.safe_dump(document, sort_keys=False)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {args.output} ({document['kind']}, {len(args.experiments)} step(s))", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add ``workflow`` to the ``chaosllm`` command."""
    from chaosllm.report.command import parse_verdicts
    from chaosllm.workflow import DEFAULT_FAIL_ON, DEFAULT_IMAGE

    parser = subparsers.add_parser(
        "workflow",
        help="render experiments as an Argo Workflow or CronWorkflow (the chaos pipeline)",
        description=(
            "Render the chaos pipeline as an Argo Workflow (or, with --schedule, a CronWorkflow): "
            "install the experiments into a ConfigMap, run each one with `chaos run` in the "
            "chaosllm image (in series, or with --parallel together), validate the SLOs with "
            "`chaosllm report --fail-on`, and always clean up in the exit handler (`chaosllm "
            "cleanup`, and every Litmus ChaosEngine deleted). A Litmus ChaosEngine file is a "
            "step of its own, created by a resource template. Every experiment is checked "
            "against the blast-radius policy (CHAOSLLM_BLAST_RADIUS and its configuration) first. "
            "With --control-file, the control file ships in the ConfigMap too and every `chaos run` "
            "gets it: the Kubernetes scenarios need experiments/settings/k8s-controls.yaml (their "
            "guard, metrics, rollbacks and redact controls), without which they are refused."
        ),
        epilog=(
            "examples:\n"
            "  chaosllm workflow experiments/scenarios/k8s/*.json \\\n"
            "      --control-file experiments/settings/k8s-controls.yaml -o pipeline.yaml\n"
            "  chaosllm workflow cache.json pod-delete-engine.yaml --parallel --namespace shop\n"
            "  chaosllm workflow experiments/scenarios/k8s/*.json --schedule '0 3 * * *' \\\n"
            "      --control-file experiments/settings/k8s-controls.yaml | kubectl apply -f -"
        ),
    )
    parser.add_argument("experiments", nargs="+", metavar="FILE",
                        help="Chaos Toolkit experiments (JSON or YAML) or Litmus ChaosEngine manifests")
    parser.add_argument("-o", "--output", default="-", help="file to write, or - for stdout (default)")
    parser.add_argument("--name", default="chaosllm-pipeline",
                        help="workflow name (default chaosllm-pipeline)")
    parser.add_argument("--namespace", default="default", help="namespace of the workflow and its objects")
    parser.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"the chaosllm image (default {DEFAULT_IMAGE})")
    parser.add_argument("--service-account", default="chaosllm", help="the pods' service account")
    parser.add_argument("--parallel", action="store_true", help="run the experiments together, not in series")
    parser.add_argument("--schedule", help="cron schedule: render a CronWorkflow, such as '0 3 * * *'")
    parser.add_argument("--fail-on", default=list(DEFAULT_FAIL_ON), type=parse_verdicts, metavar="VERDICTS",
                        help=f"verdicts that fail the validate step (default {','.join(DEFAULT_FAIL_ON)})")
    parser.add_argument("--control-file", metavar="FILE",
                        help="a Chaos Toolkit control file (YAML or JSON) shipped with the experiments "
                             "and given to every `chaos run` step, such as "
                             "experiments/settings/k8s-controls.yaml for the Kubernetes scenarios")
    parser.add_argument("--volume-size", default="1Gi", help="size of the journals volume (default 1Gi)")
    parser.set_defaults(handler=_workflow)
