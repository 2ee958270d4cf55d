"""python -m crucible_bridge: keep a crucible --chain local:DIR in sync with a subtensor."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from .health import Heartbeat, check_health
from .sync import SEED_CADENCE, sync_once
from .wallet import WalletError, check_wallet
from .weights import WeightsSubmitter

log = logging.getLogger("crucible_bridge")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="python -m crucible_bridge",
        description="Mirror a subtensor into crucible's local chain directory and "
                    "submit the validator's weights.jsonl entries.")
    p.add_argument("--netuid", type=int, help="required, except with --check-health")
    p.add_argument("--chain-dir", required=True,
                   help="the DIR of `crucible validator --chain local:DIR`")
    p.add_argument("--subtensor.network", dest="network",
                   default=env("BT_SUBTENSOR_NETWORK", "finney"),
                   help="finney, test, local, archive or a ws(s):// URL "
                        "(env BT_SUBTENSOR_NETWORK; default finney)")
    p.add_argument("--subtensor.chain_endpoint", dest="chain_endpoint",
                   default=env("BT_SUBTENSOR_CHAIN_ENDPOINT"),
                   help="ws(s):// endpoint; wins over --subtensor.network "
                        "(env BT_SUBTENSOR_CHAIN_ENDPOINT)")
    p.add_argument("--wallet.name", dest="wallet_name", default=env("BT_WALLET_NAME"),
                   help="wallet for set-weights (env BT_WALLET_NAME); "
                        "without one the bridge only mirrors the chain")
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey",
                   default=env("BT_WALLET_HOTKEY", "default"), help="env BT_WALLET_HOTKEY")
    p.add_argument("--wallet.path", dest="wallet_path",
                   default=env("BT_WALLET_PATH", "~/.bittensor/wallets"),
                   help="env BT_WALLET_PATH")
    p.add_argument("--sync-interval", type=float, default=60.0,
                   help="seconds between metagraph/commitment syncs (default 60)")
    p.add_argument("--weights-poll-interval", type=float, default=10.0,
                   help="seconds between looks at weights.jsonl (default 10)")
    p.add_argument("--seed-cadence", type=positive_int, default=SEED_CADENCE,
                   help="blocks per seed window, the validator's (default "
                        f"{SEED_CADENCE}): metagraph.json gets the hashes of the current "
                        "window's first block and the 3 before it")
    p.add_argument("--once", action="store_true", help="sync once, poll weights once, exit")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--check-health", action="store_true",
                   help="only read DIR/bridge.json: exit 0 when its heartbeat and the last "
                        "good sync are recent, else 1 (for Docker's HEALTHCHECK)")
    p.add_argument("--max-age", type=positive_float,
                   help="with --check-health: seconds (default 3 x the sync interval "
                        "recorded in bridge.json, or 180)")
    args = p.parse_args(argv)
    if args.netuid is None and not args.check_health:
        p.error("the following arguments are required: --netuid")
    return args


def run(args, chain, stop: threading.Event, heartbeat: Heartbeat) -> int:
    submitter = WeightsSubmitter(chain, args.chain_dir, args.netuid) if args.wallet_name else None
    if submitter:
        try:
            hotkey = chain.hotkey_address()
            heartbeat.weights["hotkey"] = hotkey
            log.info("submitting the weights.jsonl lines of hotkey %s (the validator's "
                     "--hotkey)", hotkey)
        except Exception as error:  # the poll says it again, each time
            log.error("the wallet's hotkey address cannot be read: %s", error)
    try:
        return loop(args, chain, stop, heartbeat, submitter)
    finally:
        if submitter:
            submitter.close()


def loop(args, chain, stop: threading.Event, heartbeat: Heartbeat, submitter) -> int:
    """Sync and poll, each on its interval, until stopped (or once with --once);
    bridge.json is written after each."""
    next_sync = next_poll = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_sync:
            try:
                heartbeat.synced(sync_once(chain, args.chain_dir, args.netuid,
                                           seed_cadence=args.seed_cadence))
            except Exception as error:  # never fatal: the last good files stay in place
                log.error("sync failed: %s", error)
                heartbeat.synced(None, error)
            next_sync = now + args.sync_interval
        if submitter and now >= next_poll:
            try:
                submitter.poll()
                heartbeat.polled(submitter)
            except Exception as error:
                log.error("weights poll failed: %s", error)
                heartbeat.polled(submitter, error)
            next_poll = now + args.weights_poll_interval
        if args.once:
            return 0
        stop.wait(max(0.1, min(next_sync, next_poll if submitter else next_sync)
                      - time.monotonic()))
    return 0


def configure_logging(level: str) -> None:
    """Our own handler on "crucible_bridge". Importing bittensor (and making a
    Subtensor) sets every other logger to CRITICAL and strips its handlers, so
    this runs after both."""
    ours = logging.getLogger("crucible_bridge")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("crucible_bridge."):
            logging.getLogger(name).setLevel(logging.NOTSET)
    ours.setLevel(level.upper())
    ours.propagate = False
    if not any(getattr(h, "_crucible_bridge", False) for h in ours.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._crucible_bridge = True
        ours.addHandler(handler)


def main(argv=None, load_hotkey_address=None) -> int:
    """The command line. load_hotkey_address(name, hotkey, path) reads the wallet's
    hotkey address (default: through the SDK); the tests pass a fake."""
    args = parse_args(argv)
    if args.check_health:  # reads one file; never imports the SDK
        healthy, message = check_health(args.chain_dir, args.max_age)
        print(message, file=sys.stdout if healthy else sys.stderr)
        return 0 if healthy else 1
    wallet_path = os.path.expanduser(args.wallet_path)
    address = None  # the wallet's hotkey address, once checked
    if args.wallet_name:  # a wrong wallet stops the start, before connecting
        if load_hotkey_address is None:
            from .sdk_chain import wallet_hotkey_address as load_hotkey_address
        try:
            address = check_wallet(wallet_path, args.wallet_name, args.wallet_hotkey,
                                   load_hotkey_address)
        except WalletError as error:
            print(f"crucible-bridge: {error}", file=sys.stderr)
            return 2
    from .sdk_chain import SdkChain, import_sdk

    import_sdk()
    configure_logging(args.log_level)

    network = args.chain_endpoint or args.network
    log.info("netuid %d, network %s, chain dir %s, seed cadence %d, wallet %s", args.netuid,
             network, args.chain_dir, args.seed_cadence,
             f"{args.wallet_name}/{args.wallet_hotkey} (hotkey address {address})"
             if args.wallet_name else "none (mirror only)")
    heartbeat = Heartbeat(args.chain_dir, args.sync_interval, bool(args.wallet_name), address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    delay = 5.0
    while not stop.is_set():  # an unreachable endpoint at start is retried, not fatal
        try:
            chain = SdkChain(network, args.wallet_name, args.wallet_hotkey, wallet_path)
            configure_logging(args.log_level)
            break
        except Exception as error:
            configure_logging(args.log_level)
            heartbeat.synced(None, error)  # bridge.json says why nothing syncs yet
            if args.once:
                log.error("cannot connect to %s: %s", network, error)
                return 1
            log.error("cannot connect to %s: %s; retry in %.0f s", network, error, delay)
            stop.wait(delay)
            delay = min(delay * 2, 300.0)
    else:
        return 0
    return run(args, chain, stop, heartbeat)
