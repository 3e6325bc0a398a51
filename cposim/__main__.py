"""Command line: `python -m cposim serve ...` runs a simulated CPO, `python -m cposim hub ...` a hub in front of
several, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType

import requests

from cposim.config import ChaosConfig, SimConfig
from cposim.credentials import HandshakeError
from cposim.hub import Hub, HubConfig
from cposim.invoicing import FAULTS
from cposim.simulator import Simulator
from cposim.wire import VERSIONS

log = logging.getLogger("cposim")


def _pair(text: str) -> tuple[int, int]:
    low, _, high = text.partition(",")
    return int(low), int(high or low)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cposim", description="Simulated CPO speaking OCPI 2.2.1, 2.1.1 or 2.3.0"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the simulator over HTTP")
    serve.add_argument("--ocpi-version", choices=VERSIONS, default="2.2.1", help="OCPI version to speak")
    serve.add_argument(
        "--also-version",
        action="append",
        choices=VERSIONS,
        default=[],
        help="a further version to list and speak if the EMSP picks it (e.g. 2.2.1 next to 2.3.0); repeatable",
    )
    serve.add_argument(
        "--tax-included", choices=("NO", "YES", "N/A"), default="NO", help="what 2.3.0 tariffs say of their prices"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9001)
    serve.add_argument("--public-url", help="base URL to advertise if the EMSP reaches us under another name")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--locations", type=int, default=30)
    serve.add_argument("--regions", default="NL,BE,DE", help="comma-separated: NL, BE, DE")
    serve.add_argument("--country-code", default="NL")
    serve.add_argument("--party-id", default="SIM")
    serve.add_argument("--page-limit", type=int, default=1000, help="server maximum page size (X-Limit)")
    serve.add_argument("--db", help="SQLite file for tokens, sessions, CDRs, credentials and overlay")
    serve.add_argument("--session-id-prefix", default="S", help="session ids are this plus a counter")
    serve.add_argument("--own-token-a", help="token A to hand out (default: generated, or kept in --db)")
    serve.add_argument("--register-with", metavar="EMSP_VERSIONS_URL", help="initiate the handshake with this EMSP")
    serve.add_argument("--token-a", help="the EMSP's token A, for --register-with")
    serve.add_argument("--register-attempts", type=int, default=30)
    serve.add_argument("--register-interval", type=float, default=2.0)
    serve.add_argument("--raw-token", action="store_true", help="send our token unencoded (2.2 style; 2.1.1 always)")
    serve.add_argument("--live", action="store_true", help="change statuses and run sessions on a timer")
    serve.add_argument("--status-rate", type=float, default=1.0, help="EVSE status changes per second")
    serve.add_argument("--session-every", type=float, default=5.0, help="seconds between new sessions")
    serve.add_argument("--session-seconds", type=_pair, default=(60, 600), help="MIN,MAX session length")
    serve.add_argument("--patch-every", type=float, default=15.0, help="seconds between session PATCHes")
    serve.add_argument("--wrong-total-share", type=float, default=0.0)
    serve.add_argument("--stranger-card-share", type=float, default=0.05, help="share of live swipes, unknown cards")
    serve.add_argument(
        "--invalid-card-tries", type=float, default=0.02, help="chance a live driver tries a card pushed as invalid"
    )
    serve.add_argument("--empty-link", action="store_true", help="send an empty Link header on last pages")
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--error-share", type=float, default=0.0, help="share of HTTP 500 answers")
    serve.add_argument("--timeout-share", type=float, default=0.0, help="share of requests held, then closed")
    serve.add_argument("--timeout-hold", type=float, default=35.0, help="seconds a timed-out request is held")
    serve.add_argument("--throttle-share", type=float, default=0.0, help="share of HTTP 429 answers (Retry-After)")
    serve.add_argument("--duplicate-share", type=float, default=0.0)
    serve.add_argument("--out-of-order-share", type=float, default=0.0)
    serve.add_argument("--quiet", action="store_true", help="log warnings only")
    invoice = commands.add_parser("invoice", help="make a running simulator invoice a month (its control endpoint)")
    invoice.add_argument("--url", default="http://127.0.0.1:9001", help="the simulator's base URL")
    invoice.add_argument("--token", required=True, help="the simulator's own token A (printed at its start)")
    invoice.add_argument("--month", required=True, help="YYYY-MM")
    invoice.add_argument("--faults", default="", help=f"comma-separated, any of: {', '.join(FAULTS)}")
    hub = commands.add_parser("hub", help="serve a hub (role HUB) in front of several simulated CPOs")
    hub.add_argument("--ocpi-version", choices=("2.2.1", "2.3.0"), default="2.2.1", help="OCPI version to speak")
    hub.add_argument("--host", default="127.0.0.1")
    hub.add_argument("--port", type=int, default=9100)
    hub.add_argument("--public-url", help="base URL to advertise if the EMSP reaches us under another name")
    hub.add_argument("--cpos", type=int, default=3, help="CPOs behind the hub: NL/AAA, BE/BBB, DE/CCC, NL/DDD, ...")
    hub.add_argument("--locations", type=int, default=10, help="locations per CPO")
    hub.add_argument("--seed", type=int, default=42)
    hub.add_argument("--country-code", default="NL")
    hub.add_argument("--party-id", default="HUB")
    hub.add_argument("--page-limit", type=int, default=1000, help="the hub's maximum page size (X-Limit)")
    hub.add_argument("--own-token-a", help="token A to hand out (default: generated)")
    hub.add_argument("--register-with", metavar="EMSP_VERSIONS_URL", help="initiate the handshake with this EMSP")
    hub.add_argument("--token-a", help="the EMSP's token A, for --register-with")
    hub.add_argument("--register-attempts", type=int, default=30)
    hub.add_argument("--register-interval", type=float, default=2.0)
    hub.add_argument("--live", action="store_true", help="every CPO changes statuses and runs sessions on a timer")
    hub.add_argument("--status-rate", type=float, default=1.0, help="EVSE status changes per second, per CPO")
    hub.add_argument("--session-every", type=float, default=5.0, help="seconds between new sessions, per CPO")
    hub.add_argument("--session-seconds", type=_pair, default=(60, 600), help="MIN,MAX session length")
    hub.add_argument("--patch-every", type=float, default=15.0, help="seconds between session PATCHes")
    hub.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def hub_config_from(args: argparse.Namespace) -> HubConfig:
    return HubConfig(
        cpos=args.cpos,
        locations=args.locations,
        seed=args.seed,
        country_code=args.country_code,
        party_id=args.party_id,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        page_limit=args.page_limit,
        token_a=args.own_token_a,
        ocpi_version=args.ocpi_version,
    )


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        seed=args.seed,
        locations=args.locations,
        country_code=args.country_code,
        party_id=args.party_id,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        regions=tuple(r.strip().upper() for r in args.regions.split(",") if r.strip()),
        page_limit=args.page_limit,
        token_a=args.own_token_a,
        db_path=args.db,
        ocpi_version=args.ocpi_version,
        also_versions=tuple(args.also_version),
        tax_included=args.tax_included,
        session_id_prefix=args.session_id_prefix,
        encode_outgoing_token=not args.raw_token,
        wrong_total_share=args.wrong_total_share,
        stranger_card_share=args.stranger_card_share,
        invalid_card_tries=args.invalid_card_tries,
        empty_link_on_last_page=args.empty_link,
        chaos=ChaosConfig(
            latency_ms=args.latency_ms,
            error_share=args.error_share,
            timeout_share=args.timeout_share,
            timeout_hold_seconds=args.timeout_hold,
            throttle_share=args.throttle_share,
            duplicate_share=args.duplicate_share,
            out_of_order_share=args.out_of_order_share,
        ),
    )


def register(
    sim: Simulator | Hub, url: str, token_a: str, *, attempts: int, interval: float, stop: threading.Event
) -> bool:
    """Try the handshake until the EMSP is up (bounded), since both may be starting together."""
    if sim.is_registered:
        log.info("already registered (from --db); not registering again")
        return True
    for attempt in range(1, attempts + 1):
        try:
            sim.register_with(url, token_a)
        except HandshakeError as exc:
            log.info("registration attempt %d/%d failed: %s", attempt, attempts, exc)
        else:
            return True
        if stop.wait(interval):
            return False
    log.warning("could not register with %s after %d attempts", url, attempts)
    return False


def run_invoice(args: argparse.Namespace) -> int:
    """POST /control/invoicing/{month} to a running simulator and print its answer."""
    try:
        response = requests.post(
            f"{args.url.rstrip('/')}/control/invoicing/{args.month}",
            params={"faults": args.faults} if args.faults else None,
            headers={"Authorization": f"Token {args.token}"},
            timeout=60,
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        print(f"could not use {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0 if response.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "invoice":
        return run_invoice(args)
    if args.register_with and not args.token_a:
        print("--register-with needs --token-a", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if args.command == "hub":
        run_hub(args, stop)
    else:
        run_simulator(args, stop)
    return 0


def _live(sim: Simulator, args: argparse.Namespace, stop: threading.Event) -> None:
    sim.run_live(
        stop=stop,
        status_rate=args.status_rate,
        session_every=args.session_every,
        session_seconds=args.session_seconds,
        patch_every=args.patch_every,
    )


def _register(target: Simulator | Hub, args: argparse.Namespace, stop: threading.Event) -> None:
    if args.register_with:
        register(
            target,
            args.register_with,
            args.token_a,
            attempts=args.register_attempts,
            interval=args.register_interval,
            stop=stop,
        )


def run_simulator(args: argparse.Namespace, stop: threading.Event) -> None:
    sim = Simulator(config_from(args)).start()
    print(f"versions URL: {sim.versions_url}", flush=True)
    print(f"token A:      {sim.token_a}", flush=True)
    try:
        _register(sim, args, stop)
        if args.live and not stop.is_set():
            _live(sim, args, stop)
        stop.wait()
    finally:
        sim.stop()
        log.info("stopped")


def run_hub(args: argparse.Namespace, stop: threading.Event) -> None:
    hub = Hub(hub_config_from(args)).start()
    print(f"versions URL: {hub.versions_url}", flush=True)
    print(f"token A:      {hub.token_a}", flush=True)
    print(f"parties:      {', '.join('/'.join(party) for party in hub.parties)}", flush=True)
    loops: list[threading.Thread] = []
    try:
        _register(hub, args, stop)
        if args.live and not stop.is_set():
            for sim in hub.cpos:
                loop = threading.Thread(target=_live, args=(sim, args, stop), name="cposim-live", daemon=True)
                loop.start()
                loops.append(loop)
        stop.wait()
    finally:
        for loop in loops:
            loop.join(timeout=10)
        hub.stop()
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
