"""``jenkins-emulator`` console script.

    jenkins-emulator serve --port PORT --home DIR --admin-user USER
                           (--admin-token TOKEN | --admin-token-file PATH)
                           [--host 127.0.0.1] [--root-url URL] [--admin-password PW]
                           [--plugin NAME:VERSION ...] [--plugins-file plugins.txt]
                           [--builtin-executors 0] [--builtin-labels ""] [--quiet-period 0]
    jenkins-emulator agent [agent.py options]  # the emulated inbound agent
    jenkins-emulator healthcheck [--host H] [--port P]

Settings may also come from the environment: ``JENKINS_EMULATOR_ADMIN_USER``,
``JENKINS_EMULATOR_ADMIN_TOKEN``, ``JENKINS_EMULATOR_ADMIN_TOKEN_FILE``,
``JENKINS_EMULATOR_ADMIN_PASSWORD``, ``JENKINS_EMULATOR_ROOT_URL``,
``JENKINS_EMULATOR_BUILTIN_EXECUTORS`` (so that a container does not need secrets on its command
line). A token file (a bind-mounted secret such as ``/run/secrets/jenkins-admin-token``) keeps
the token out of ``docker inspect`` too; its surrounding whitespace is ignored.
"""

import argparse
import asyncio
import os
import signal
import sys

from . import plugins as plugin_mod


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jenkins-emulator", description="Jenkins controller emulator"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the emulated controller")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--home", required=True, help="state directory (like JENKINS_HOME)")
    serve.add_argument(
        "--admin-user", default=os.environ.get("JENKINS_EMULATOR_ADMIN_USER", "admin")
    )
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("JENKINS_EMULATOR_ADMIN_TOKEN"),
        help="API token of the admin user (crumb-exempt Basic auth)",
    )
    serve.add_argument(
        "--admin-token-file",
        default=os.environ.get("JENKINS_EMULATOR_ADMIN_TOKEN_FILE"),
        metavar="PATH",
        help="read the admin API token from this file (used when --admin-token is not given)",
    )
    serve.add_argument(
        "--admin-password",
        default=os.environ.get("JENKINS_EMULATOR_ADMIN_PASSWORD"),
        help="optional password of the admin user (Basic auth that needs crumbs)",
    )
    serve.add_argument(
        "--root-url",
        default=os.environ.get("JENKINS_EMULATOR_ROOT_URL"),
        help="URL Jenkins advertises (default: from the request Host)",
    )
    serve.add_argument("--plugin", action="append", default=[], metavar="NAME:VERSION")
    serve.add_argument("--plugins-file", action="append", default=[], metavar="PATH")
    serve.add_argument(
        "--builtin-executors",
        type=int,
        default=int(os.environ.get("JENKINS_EMULATOR_BUILTIN_EXECUTORS", "0")),
    )
    serve.add_argument("--builtin-labels", default="")
    serve.add_argument(
        "--quiet-period",
        type=float,
        default=0.0,
        help="default quiet period in seconds (Jenkins: 5; default 0 for speed)",
    )
    serve.add_argument("--jenkins-version", default=None)
    sub.add_parser("agent", help="run the emulated inbound agent", add_help=False)
    health = sub.add_parser("healthcheck", help="exit 0 when a controller answers with X-Jenkins")
    health.add_argument("--host", default="127.0.0.1")
    health.add_argument("--port", type=int, default=8080)
    return parser


def read_token_file(path):
    """The token in ``path`` (whitespace stripped); exits with a message naming the path, never
    the contents, when the file is unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SystemExit(
            f"jenkins-emulator: cannot read the admin token file {path}: {reason}"
        ) from None
    if not token:
        raise SystemExit(f"jenkins-emulator: the admin token file {path} is empty")
    return token


def serve(args):
    from aiohttp import web

    from .app import JENKINS_VERSION, Controller, create_app

    if not args.admin_token and args.admin_token_file:
        args.admin_token = read_token_file(args.admin_token_file)
    if not args.admin_token and not args.admin_password:
        raise SystemExit("jenkins-emulator: --admin-token (or --admin-password) is required")
    specs = []
    try:
        for path in args.plugins_file:
            specs += plugin_mod.read_plugins_file(path)
        for spec in args.plugin:
            parsed = plugin_mod.parse_spec(spec)
            if parsed:
                specs.append(parsed)
    except (OSError, plugin_mod.PluginSpecError) as exc:
        raise SystemExit(f"jenkins-emulator: {exc}") from exc
    ctl = Controller(
        args.home,
        host=args.host,
        port=args.port,
        root_url=args.root_url,
        admin_user=args.admin_user,
        admin_token=args.admin_token,
        admin_password=args.admin_password,
        plugin_specs=specs,
        builtin_executors=args.builtin_executors,
        builtin_labels=args.builtin_labels,
        quiet_period=args.quiet_period,
        version=args.jenkins_version or JENKINS_VERSION,
    )
    app = create_app(ctl)

    async def run():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port, shutdown_timeout=1.0)
        await site.start()
        print(
            f"Jenkins emulator {ctl.version} is fully up and running on "
            f"http://{args.host}:{args.port}/ (home {ctl.home})",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await stop.wait()
        await runner.cleanup()

    asyncio.run(run())
    return 0


def healthcheck(host, port):
    import urllib.error
    import urllib.request

    try:
        resp = urllib.request.urlopen(f"http://{host}:{port}/", timeout=3)
    except urllib.error.HTTPError as exc:
        resp = exc
    except OSError:
        return 1
    return 0 if resp.headers.get("X-Jenkins") else 1


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "agent":
        from . import agent

        return agent.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "healthcheck":
        return healthcheck(args.host, args.port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
