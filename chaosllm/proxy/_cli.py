"""``chaosllm proxy list|inspect|create|delete|toggle|toxic add|toxic remove``.

The client side of the proxy command, mirroring ``toxiproxy-cli``: each
subcommand is one or two calls to a Toxiproxy-compatible HTTP API (chaosllm's
fault proxy or a real Toxiproxy), through :mod:`chaosllm._clients.proxy`. The
API is named by ``--host`` or ``$CHAOSLLM_PROXY_API_URL``; there is no default,
so that nothing is ever changed on an API the user did not name.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

__all__ = ["register_client_commands"]

HOST_HELP = ("the proxy API, such as http://127.0.0.1:8474 (default $CHAOSLLM_PROXY_API_URL; "
             "there is no built-in default)")  # fmt: skip


def _parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--host", help=HOST_HELP)
    parent.add_argument("--json", action="store_true", help="print the API's JSON answer")
    return parent


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join("  " + line for line in lines)


def _on_one_proxy(sub: Any, parent: argparse.ArgumentParser, name: str, handler: Any,
                  summary: str, description: str, *examples: str) -> None:  # fmt: skip
    """A subcommand whose one argument is a proxy's name."""
    parser = sub.add_parser(name, parents=[parent], help=summary, description=description,
                            epilog=_examples(*examples))  # fmt: skip
    parser.add_argument("proxy", help="the proxy's name")
    parser.set_defaults(handler=handler)


def register_client_commands(sub: Any) -> None:
    """Add the client subcommands to the ``proxy`` group's subparsers."""
    parent = _parent()
    host = "--host http://127.0.0.1:8474"

    listing = sub.add_parser(
        "list", parents=[parent], help="list the proxies and their toxics",
        description="List every proxy of the API: name, listen and upstream addresses, "
                    "whether it is enabled, and how many toxics it holds.",
        epilog=_examples(f"chaosllm proxy list {host}",
                         "CHAOSLLM_PROXY_API_URL=http://127.0.0.1:8474 chaosllm proxy list --json"),
    )  # fmt: skip
    listing.set_defaults(handler=_list)

    _on_one_proxy(sub, parent, "inspect", _inspect, "show one proxy and each of its toxics",
                  "Show one proxy and every toxic on it, with its stream, toxicity and "
                  "attributes. Exit 1 when there is no such proxy.",
                  f"chaosllm proxy inspect redis {host}")  # fmt: skip

    create = sub.add_parser(
        "create", parents=[parent], help="create a proxy",
        description="Create a proxy that listens on --listen and relays to --upstream. "
                    "Exit 1 when the name is taken or an address is malformed.",
        epilog=_examples(
            f"chaosllm proxy create redis --listen 127.0.0.1:16379 --upstream 127.0.0.1:6379 {host}",
            "chaosllm proxy create llm --listen 127.0.0.1:18080 --upstream 127.0.0.1:8080 "
            f"--mode http {host}"),
    )  # fmt: skip
    create.add_argument("proxy", help="the new proxy's name")
    create.add_argument("-l", "--listen", required=True,
                        help="address to listen on, host:port (port 0 picks a free one)")
    create.add_argument("-u", "--upstream", required=True, help="address to relay to, host:port")
    create.add_argument("--mode", choices=("tcp", "http"),
                        help="chaosllm's fault proxy only: relay bytes (tcp, the default) or "
                             "HTTP requests (http, for HTTP faults)")
    create.set_defaults(handler=_create)

    _on_one_proxy(sub, parent, "delete", _delete, "delete a proxy and its toxics",
                  "Delete a proxy: its listener closes and its connections are cut. "
                  "Exit 1 when there is no such proxy.",
                  f"chaosllm proxy delete redis {host}")  # fmt: skip
    _on_one_proxy(sub, parent, "toggle", _toggle,
                  "disable an enabled proxy, or enable a disabled one",
                  "Flip a proxy between enabled and disabled. A disabled proxy refuses "
                  "new connections and cuts the open ones, as if its upstream were down.",
                  f"chaosllm proxy toggle redis {host}   # down",
                  f"chaosllm proxy toggle redis {host}   # up again")  # fmt: skip

    toxic = sub.add_parser(
        "toxic", help="add or remove a toxic on a proxy",
        description="Toxics are the faults of a proxy: latency, bandwidth, slow_close, "
                    "timeout, reset_peer, slicer, limit_data (and, on chaosllm's fault proxy "
                    "in http mode, its HTTP faults).",
    )  # fmt: skip
    toxic.set_defaults(group_parser=toxic)
    toxic_sub = toxic.add_subparsers(dest="toxic_command", metavar="SUBCOMMAND")
    add = toxic_sub.add_parser(
        "add", parents=[parent], help="add a toxic to a proxy",
        description="Add a toxic to a proxy, as toxiproxy-cli does. Attributes are integers "
                    "in Toxiproxy's units (latency and jitter in ms, rate in KB/s); a value "
                    "that reads as JSON is sent as JSON. The toxic stays until it is removed.",
        epilog=_examples(
            f"chaosllm proxy toxic add redis -t latency -a latency=500 -a jitter=50 {host}",
            f"chaosllm proxy toxic add redis -t bandwidth -a rate=64 --upstream {host}",
            f"chaosllm proxy toxic add redis -t timeout -a timeout=0 -n blackhole --tox 0.5 {host}"),
    )  # fmt: skip
    add.add_argument("proxy", help="the proxy's name")
    add.add_argument("-t", "--type", required=True, help="the toxic's type, such as latency")
    add.add_argument("-n", "--toxicName", dest="toxic_name",
                     help="the toxic's name (default TYPE_STREAM, such as latency_downstream)")
    add.add_argument("-a", "--attribute", action="append", default=[], metavar="KEY=VALUE",
                     help="a toxic attribute; repeatable")
    add.add_argument("--tox", "--toxicity", dest="toxicity", type=float,
                     help="share of connections the toxic applies to, 0 to 1 (default 1)")
    streams = add.add_mutually_exclusive_group()
    streams.add_argument("-u", "--upstream", dest="stream", action="store_const", const="upstream",
                         help="apply to data sent to the upstream")
    streams.add_argument("-d", "--downstream", dest="stream", action="store_const",
                         const="downstream", help="apply to data sent back (the default)")
    add.set_defaults(handler=_toxic_add)

    remove = toxic_sub.add_parser(
        "remove", parents=[parent], help="remove a toxic from a proxy",
        description="Remove one toxic by name. Exit 1 when the proxy or the toxic does not exist.",
        epilog=_examples(f"chaosllm proxy toxic remove redis -n latency_downstream {host}"),
    )  # fmt: skip
    remove.add_argument("proxy", help="the proxy's name")
    remove.add_argument("-n", "--toxicName", dest="toxic_name", required=True,
                        help="the toxic's name (see 'chaosllm proxy inspect')")
    remove.set_defaults(handler=_toxic_remove)


def _call(args: argparse.Namespace, action: str, method: str, route: str, body: Any = None) -> Any:
    from chaosllm._clients.proxy import proxy_api
    from chaosllm.errors import ConfigurationError

    url = args.host or os.environ.get("CHAOSLLM_PROXY_API_URL")
    if not url:
        raise ConfigurationError("no proxy API given: pass --host http://HOST:PORT "
                                 "or set CHAOSLLM_PROXY_API_URL")  # fmt: skip
    if "://" not in url:
        shown = url.rsplit("@", 1)[-1]  # never the credentials before an "@"
        raise ConfigurationError(f"the proxy API {shown!r} needs its scheme, such as "
                                 f"--host http://{shown}")  # fmt: skip
    with proxy_api(action, url) as api:
        return api.request(method, route, body)[1]


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2))


def _proxy_line(proxy: dict[str, Any]) -> str:
    state = "enabled" if proxy.get("enabled") else "disabled"
    toxics = len(proxy.get("toxics") or [])
    return (f"{proxy.get('name', '?'):<16} {proxy.get('listen', ''):<22} "
            f"{proxy.get('upstream', ''):<22} {state:<9} {toxics}")  # fmt: skip


def _list(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    proxies = _call(args, "list proxies", "GET", path("proxies")) or {}
    if args.json:
        _print_json(proxies)
        return 0
    if not proxies:
        print("no proxies")
        return 0
    print(f"{'NAME':<16} {'LISTEN':<22} {'UPSTREAM':<22} {'STATE':<9} TOXICS")
    for name in sorted(proxies):
        print(_proxy_line({"name": name, **proxies[name]}))
    return 0


def _toxic_line(toxic: dict[str, Any]) -> str:
    attributes = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                          for k, v in sorted((toxic.get("attributes") or {}).items()))  # fmt: skip
    return (f"  {toxic.get('name', '?')}: {toxic.get('type', '?')} on {toxic.get('stream', '?')}, "
            f"toxicity {toxic.get('toxicity', 1.0):g}" + (f", {attributes}" if attributes else ""))


def _inspect(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    proxy = _call(args, f"inspect proxy {args.proxy!r}", "GET", path("proxies", args.proxy))
    if args.json:
        _print_json(proxy)
        return 0
    state = "enabled" if proxy.get("enabled") else "disabled"
    mode = f", {proxy['mode']} mode" if proxy.get("mode") else ""
    print(f"{proxy['name']}: {proxy['listen']} -> {proxy['upstream']}, {state}{mode}")
    toxics = proxy.get("toxics") or []
    print("toxics:" if toxics else "no toxics")
    for toxic in toxics:
        print(_toxic_line(toxic))
    return 0


def _create(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    body = {"name": args.proxy, "listen": args.listen, "upstream": args.upstream, "enabled": True}
    if args.mode:
        body["mode"] = args.mode
    proxy = _call(args, f"create proxy {args.proxy!r}", "POST", path("proxies"), body)
    if args.json:
        _print_json(proxy)
    else:
        print(f"created proxy {proxy['name']}: {proxy['listen']} -> {proxy['upstream']}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    _call(args, f"delete proxy {args.proxy!r}", "DELETE", path("proxies", args.proxy))
    if args.json:
        _print_json({"name": args.proxy, "deleted": True})
    else:
        print(f"deleted proxy {args.proxy}")
    return 0


def _toggle(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    route = path("proxies", args.proxy)
    current = _call(args, f"read proxy {args.proxy!r}", "GET", route)
    enable = not current.get("enabled")
    what = "enable" if enable else "disable"
    proxy = _call(args, f"{what} proxy {args.proxy!r}", "POST", route, {"enabled": enable})
    if args.json:
        _print_json(proxy)
    else:
        print(f"proxy {args.proxy} is now {'enabled' if proxy.get('enabled') else 'disabled'}")
    return 0


def _attribute(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"attribute {text!r} must be KEY=VALUE, such as latency=500")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _toxic_add(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    body: dict[str, Any] = {"type": args.type, "attributes": dict(map(_attribute, args.attribute))}
    if args.toxic_name:
        body["name"] = args.toxic_name
    if args.stream:
        body["stream"] = args.stream
    if args.toxicity is not None:
        body["toxicity"] = args.toxicity
    toxic = _call(args, f"add a {args.type} toxic to proxy {args.proxy!r}", "POST",
                  path("proxies", args.proxy, "toxics"), body)  # fmt: skip
    if args.json:
        _print_json(toxic)
    else:
        print(f"added toxic to proxy {args.proxy}:")
        print(_toxic_line(toxic))
    return 0


def _toxic_remove(args: argparse.Namespace) -> int:
    from chaosllm._clients.proxy import path

    _call(args, f"remove toxic {args.toxic_name!r} from proxy {args.proxy!r}", "DELETE",
          path("proxies", args.proxy, "toxics", args.toxic_name))  # fmt: skip
    if args.json:
        _print_json({"proxy": args.proxy, "toxic": args.toxic_name, "removed": True})
    else:
        print(f"removed toxic {args.toxic_name} from proxy {args.proxy}")
    return 0
