"""``chaosllm proxy serve``: run the fault proxy and its Toxiproxy-style API; the
``toxiproxy-cli``-like client subcommands (list, inspect, create, delete, toggle,
toxic add/remove) are in :mod:`chaosllm.proxy._cli`.

``--config`` takes Toxiproxy's config file format, a JSON list of proxies
(``[{"name": "db", "listen": "127.0.0.1:15432", "upstream": "127.0.0.1:5432"}]``).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from chaosllm.proxy._cli import register_client_commands

if TYPE_CHECKING:
    import asyncio

__all__ = ["register", "serve"]


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "proxy",
        help="run the fault proxy, or drive any Toxiproxy-compatible API",
        description=(
            "The local TCP fault proxy ('serve'), and subcommands like toxiproxy-cli's that "
            "drive its API or a real Toxiproxy's: list, inspect, create, delete, toggle, "
            "toxic add, toxic remove. Those take the API as --host URL or "
            "$CHAOSLLM_PROXY_API_URL; there is no default."
        ),
        epilog=(
            "examples:\n"
            "  chaosllm proxy serve --port 8474 &\n"
            "  chaosllm proxy create redis -l 127.0.0.1:16379 -u 127.0.0.1:6379 --host http://127.0.0.1:8474\n"
            "  chaosllm proxy toxic add redis -t latency -a latency=500 --host http://127.0.0.1:8474\n"
            "  chaosllm proxy list --host http://127.0.0.1:8474"
        ),
    )
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="proxy_command", metavar="SUBCOMMAND")
    serve_parser = sub.add_parser(
        "serve",
        help="serve the proxy API until interrupted",
        description=(
            "Serve the fault proxy API (Toxiproxy's routes: /proxies, /proxies/NAME/toxics, "
            "/reset, /version, /populate) until SIGINT or SIGTERM. Proxies and toxics are "
            "created through the API or chaosllm.proxy.actions."
        ),
        epilog=(
            "examples:\n"
            "  chaosllm proxy serve                      # API on 127.0.0.1:8474\n"
            "  chaosllm proxy serve --port 18474 --config proxies.json\n"
            "  # proxies.json: [{\"name\": \"redis\", \"listen\": \"127.0.0.1:16379\",\n"
            "  #                 \"upstream\": \"127.0.0.1:6379\"}]"
        ),
    )
    serve_parser.add_argument("--host", type=_host, default="127.0.0.1",
                              help="API address (default 127.0.0.1; the API has no authentication, "
                                   "so every interface must be asked for as 0.0.0.0)")
    serve_parser.add_argument("--port", type=_port, default=8474, help="API port (default 8474)")
    serve_parser.add_argument("--config", help="JSON file with a list of proxies to create")
    serve_parser.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
        help="event loop: auto (the default) is uvloop when it is installed, else asyncio; "
             "docs/DESIGN.md has the measurements",
    )
    serve_parser.set_defaults(handler=_serve_command)
    register_client_commands(sub)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0 to 65535 (0 picks a free one)")
    return int(text)


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty host is not allowed: name an address, "
                                         "such as 127.0.0.1 (or 0.0.0.0 for every interface)")
    return text.strip()


def _serve_command(args: argparse.Namespace) -> int:
    proxies = None
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            try:
                proxies = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"proxy config {args.config} is not valid JSON: {exc}") from None
        if isinstance(proxies, dict) and isinstance(proxies.get("proxies"), list):
            proxies = proxies["proxies"]
        if not isinstance(proxies, list):
            raise ValueError(f"proxy config {args.config} must be a JSON list of proxies, such as "
                             '[{"name": "redis", "listen": "127.0.0.1:16379", "upstream": "127.0.0.1:6379"}]')
    return serve(args.host, args.port, proxies, args.loop, source=args.config)


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    import asyncio

    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def serve(host: str, port: int, proxies: list[Any] | None = None, loop_kind: str = "auto",
          source: str | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit code.

    ``proxies`` (from the config file ``source``) are created once the API listens."""
    import asyncio

    from chaosllm.proxy._api import serve_api
    from chaosllm.proxy._server import ApiError, Collection

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        loop = _new_loop(loop_kind)
    except ImportError:
        print(f"chaosllm proxy serve: error: the {loop_kind} event loop is not installed "
              f"(pip install {loop_kind})", file=sys.stderr)
        return 1
    collection = Collection()

    async def main() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        server = await serve_api(collection, host, port)
        try:
            for index, item in enumerate(proxies or [], 1):
                name = item.get("name") if isinstance(item, dict) else None
                try:
                    collection.create(item, replace=True)
                except ApiError as exc:
                    where = f"proxy config {source}" if source else "proxy config"
                    raise ApiError(exc.status, f"{where}, proxy {name or '#' + str(index)}: {exc}") from None
            bound = server.sockets[0].getsockname()
            print(f"chaosllm proxy API listening on http://{bound[0]}:{bound[1]} "
                  f"({type(loop).__module__.split('.')[0]} loop)", flush=True)
            await stop.wait()
        finally:
            server.close()
            collection.close()

    try:
        loop.run_until_complete(main())
    except ApiError as exc:
        print(f"chaosllm proxy serve: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chaosllm proxy serve: error: could not serve on {host}:{port}: {exc}",
              file=sys.stderr)
        return 1
    finally:
        loop.close()
    return 0
