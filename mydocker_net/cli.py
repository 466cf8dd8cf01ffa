"""Command line: parse, wire the layers together, print results; every error becomes one line."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from mydocker_net import __version__
from mydocker_net.errors import (
    EXIT_DRIFT,
    EXIT_FAILURE,
    EXIT_OK,
    MyDockerNetError,
    PermissionDenied,
    UsageError,
)

PROG = "mydocker-net"
STATE_DIR_ENV = "MYDOCKER_NET_STATE_DIR"


class Terminated(BaseException):
    """SIGTERM/SIGHUP arrived: unwind like Ctrl-C so a running plan rolls back."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, instead of argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _global_options(top: bool) -> argparse.ArgumentParser:
    """Accepted before and after the subcommand; only the top level sets defaults."""
    def default(value):
        return value if top else argparse.SUPPRESS

    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument("--dry-run", action="store_true", default=default(False),
                      help="print the commands as a shell script; change nothing")
    opts.add_argument("--state-dir", default=default(None), metavar="DIR",
                      help=f"state directory (env {STATE_DIR_ENV}; default /var/lib/mydocker-net)")
    opts.add_argument("--format", choices=("table", "json"), default=default("table"),
                      help="output format of list, inspect, create, connect, apply, doctor")
    opts.add_argument("-q", "--quiet", action="store_true", default=default(False),
                      help="names only (list), no progress lines")
    opts.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                      default=default("warning"), help="stderr verbosity; debug shows each command")
    return opts


def build_parser() -> Parser:
    leaf = [_global_options(top=False)]
    parser = Parser(prog=PROG, parents=[_global_options(top=True)],
                    description="Bridge networks for containers, built from ip and iptables.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    objects = parser.add_subparsers(dest="object", metavar="OBJECT", parser_class=Parser)
    objects.required = True
    network = objects.add_parser("network", help="manage networks", parents=leaf)
    verbs = network.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    verbs.required = True

    create = verbs.add_parser("create", help="create a network", parents=leaf)
    create.add_argument("--driver", default="bridge", help="network driver (default: bridge)")
    create.add_argument("--subnet", help="IPv4 CIDR, /8 to /30 (default: first free /24 of 10.200.0.0/13)")
    create.add_argument("--gateway", help="gateway address (default: first usable address)")
    create.add_argument("--internal", action="store_true", help="no NAT to the outside")
    create.add_argument("--mtu", type=int, help="bridge MTU")
    create.add_argument("name", metavar="NAME")
    create.set_defaults(handler=cmd_create)

    listing = verbs.add_parser("list", aliases=["ls"], help="list networks", parents=leaf)
    listing.set_defaults(handler=cmd_list)

    inspect = verbs.add_parser("inspect", help="show networks as JSON", parents=leaf)
    inspect.add_argument("names", nargs="+", metavar="NAME")
    inspect.set_defaults(handler=cmd_inspect)

    remove = verbs.add_parser("remove", aliases=["rm"], help="remove networks", parents=leaf)
    remove.add_argument("-f", "--force", action="store_true",
                        help="a missing network is not an error; endpoints are disconnected first")
    remove.add_argument("names", nargs="+", metavar="NAME")
    remove.set_defaults(handler=cmd_remove)

    connect = verbs.add_parser("connect", parents=leaf,
                               help="join a network namespace (name, path or PID) to a network")
    connect.add_argument("--ip", help="static address (default: the lowest free one)")
    connect.add_argument("--ifname", default="eth0", help="interface name inside (default: eth0)")
    connect.add_argument("-p", "--publish", action="append", default=[],
                         metavar="HOSTPORT:CONTAINERPORT[/tcp|/udp]", help="publish a port (repeatable)")
    connect.add_argument("network", metavar="NETWORK")
    connect.add_argument("target", metavar="TARGET")
    connect.set_defaults(handler=cmd_connect)

    disconnect = verbs.add_parser("disconnect", parents=leaf, help="take a namespace off a network")
    disconnect.add_argument("-f", "--force", action="store_true",
                            help="a target that is not connected is not an error")
    disconnect.add_argument("network", metavar="NETWORK")
    disconnect.add_argument("target", metavar="TARGET")
    disconnect.set_defaults(handler=cmd_disconnect)

    apply = objects.add_parser("apply", parents=leaf,
                               help="create what a JSON document describes and is missing")
    apply.add_argument("-f", "--file", required=True, metavar="FILE", help="the document; - for stdin")
    apply.add_argument("--prune", action="store_true",
                       help="also remove networks and endpoints the document does not name")
    apply.set_defaults(handler=cmd_apply)

    check = objects.add_parser("doctor", parents=leaf,
                               help="compare the store with the kernel; --fix repairs the kernel")
    check.add_argument("--fix", action="store_true",
                       help="make the kernel match the store; drop interrupted creates/removes")
    check.set_defaults(handler=cmd_doctor)
    return parser


# ---- wiring ----------------------------------------------------------------------------------

def make_store(args):
    from mydocker_net.store import DEFAULT_STATE_DIR, Store

    return Store(args.state_dir or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def make_service(args, needs_root: bool):
    """Commands that run things get the runner, the service and logging; listings do not."""
    import logging

    from mydocker_net.privileges import has_net_admin
    from mydocker_net.runner import DryRunRunner, ShRunner
    from mydocker_net.service import Service

    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format=f"{PROG}: %(levelname)s: %(message)s", force=True)
    if needs_root and not args.dry_run and not has_net_admin():
        raise PermissionDenied(f"{args.object} {getattr(args, 'verb', '') or ''}".strip()
                               + " needs root: run it as root (it needs CAP_NET_ADMIN)")
    runner = DryRunRunner(ShRunner()) if args.dry_run else ShRunner()
    return Service(make_store(args), runner, dry_run=args.dry_run, warn=warn)


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def report(errors) -> int:
    for err in errors:
        print(f"{PROG}: error: {err}", file=sys.stderr)
    return EXIT_FAILURE if errors else EXIT_OK


def notice(args, message: str) -> None:
    """Progress for people: stdout normally, stderr in dry-run (stdout is the script there)."""
    if not args.quiet:
        print(message, file=_human(args))


# ---- handlers --------------------------------------------------------------------------------

def cmd_create(args) -> int:
    from mydocker_net.service import CreateRequest

    request = CreateRequest(name=args.name, driver=args.driver, subnet=args.subnet,
                            gateway=args.gateway, internal=args.internal, mtu=args.mtu)
    net = make_service(args, needs_root=True).create(request)
    if args.format == "json" and not args.dry_run:
        from mydocker_net.output import to_json
        print(to_json(net.details()))
    else:
        verb = "would create" if args.dry_run else "created"
        notice(args, f"{verb} network {net.name}: subnet {net.subnet}, gateway {net.gateway}, "
                     f"bridge {net.bridge}")
    return EXIT_OK


def cmd_list(args) -> int:
    from mydocker_net import output
    from mydocker_net.queries import list_networks

    networks = list_networks(make_store(args))
    if args.quiet:
        for net in networks:
            print(net.name)
    elif args.format == "json":
        print(output.to_json([net.summary() for net in networks]))
    else:
        print(output.network_table(networks))
    return EXIT_OK


def cmd_inspect(args) -> int:
    from mydocker_net.output import to_json
    from mydocker_net.queries import inspect

    outcome = inspect(make_store(args), args.names)
    print(to_json([net.details() for net in outcome.done]))
    return report(outcome.errors)


def cmd_remove(args) -> int:
    outcome = make_service(args, needs_root=True).remove(args.names, force=args.force)
    for name in outcome.done:
        notice(args, f"{'would remove' if args.dry_run else 'removed'} network {name}")
    return report(outcome.errors)


def cmd_connect(args) -> int:
    from mydocker_net.service import ConnectRequest

    request = ConnectRequest(network=args.network, target=args.target, ip=args.ip,
                             ifname=args.ifname, publish=tuple(args.publish))
    net, ep = make_service(args, needs_root=True).connect(request)
    if args.format == "json" and not args.dry_run:
        from mydocker_net.output import to_json
        print(to_json(ep.view() | {"network": net.name}))
    else:
        ports = f", ports {', '.join(str(p) for p in ep.ports())}" if ep.publish else ""
        verb = "would connect" if args.dry_run else "connected"
        notice(args, f"{verb} {ep.target} to network {net.name}: {ep.ifname} {ep.address}/"
                     f"{net.prefixlen}, gateway {net.gateway}{ports}")
    return EXIT_OK


def cmd_disconnect(args) -> int:
    ep = make_service(args, needs_root=True).disconnect(args.network, args.target, force=args.force)
    if ep is not None:
        verb = "would disconnect" if args.dry_run else "disconnected"
        notice(args, f"{verb} {ep.target} from network {args.network}")
    return EXIT_OK


def cmd_apply(args) -> int:
    import json

    from mydocker_net import apply as desired

    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file).read()
        data = json.loads(text)
    except OSError as err:
        raise UsageError(f"cannot read {args.file}: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(f"{args.file} is not JSON: {err}") from None
    try:
        result = _apply_no_op(args, data) or make_service(args, needs_root=True).apply(
            data, prune=args.prune)
    except (desired.DocumentInvalid, desired.ApplyConflict) as err:
        report(err.problems)
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    if args.format == "json":
        from mydocker_net.output import to_json
        print(to_json({"changed": result.changed, "dry_run": args.dry_run,
                       "networks": {"created": result.created, "unchanged": result.unchanged,
                                    "removed": result.removed},
                       "endpoints": {"connected": result.connected,
                                     "unchanged": result.unchanged_endpoints,
                                     "disconnected": result.disconnected}}), file=_human(args))
    elif not result.changed:
        notice(args, f"apply: nothing to do ({len(result.unchanged)} networks and "
                     f"{len(result.unchanged_endpoints)} endpoints already match)")
    else:
        notice(args, f"apply: networks {len(result.created)} created, {len(result.unchanged)} "
                     f"unchanged, {len(result.removed)} removed; endpoints {len(result.connected)} "
                     f"connected, {len(result.unchanged_endpoints)} unchanged, "
                     f"{len(result.disconnected)} disconnected" + (" (dry-run)" if args.dry_run else ""))
    return EXIT_OK


def _apply_no_op(args, data):
    """When the store already matches, say so from a snapshot: no lock, no runner, no `sh`, so a
    re-apply costs about one start-up. Anything to do goes through the service (and its lock)."""
    from mydocker_net import apply as desired

    changes, conflicts = desired.diff(desired.parse(data), make_store(args).snapshot(), args.prune)
    if conflicts or not changes.empty:
        return None
    return desired.ApplyReport([], changes.unchanged, [], [], changes.unchanged_endpoints, [])


def _human(args):
    """Where reports go: stdout, except in dry-run, where stdout is the script."""
    return sys.stderr if args.dry_run else sys.stdout


def cmd_doctor(args) -> int:
    report_ = make_service(args, needs_root=True).doctor(fix=args.fix)
    if args.format == "json":
        from mydocker_net.output import doctor_json
        print(doctor_json(report_, args.fix))
    else:
        _print_doctor(args, report_)
    return EXIT_DRIFT if report_.remaining else EXIT_OK


def _print_doctor(args, report_) -> None:
    if not report_.problems:
        notice(args, f"ok: the kernel matches the store ({report_.checked} networks)")
        return
    out = _human(args)
    for index, problem in enumerate(report_.problems):
        if not args.fix:
            print(problem.line(), file=out)
        elif report_.fixed(index):
            print(f"{'would fix' if args.dry_run else 'fixed'}: {problem.line()}", file=out)
        elif index in report_.errors:
            print(f"not fixed: {problem.line()}: {report_.errors[index]}", file=out)
        else:
            print(f"not fixed: {problem.line()}", file=out)


# ---- entry point -----------------------------------------------------------------------------

def _terminate(signum, _frame):
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    args = None
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except MyDockerNetError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 130
    except Terminated as sig:
        print(f"{PROG}: error: terminated by signal {sig.args[0]}", file=sys.stderr)
        return 128 + sig.args[0]
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # silence the flush at exit
        return EXIT_FAILURE
    except Exception as err:  # never a traceback: one line, details at debug level
        if args is not None and args.log_level == "debug":
            import traceback
            traceback.print_exc()
        print(f"{PROG}: error: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILURE
