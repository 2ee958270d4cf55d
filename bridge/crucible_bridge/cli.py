"""python -m crucible_bridge: keep a crucible --chain local:DIR in sync with a subtensor."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from .chain import SubmitResult
from .commitment import CommitmentError, check_commitment
from .health import Heartbeat, check_health, one_line
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


def add_chain_flags(p: argparse.ArgumentParser, wallet_help: str) -> None:
    """The SDK's flag names, with its BT_* environment defaults."""
    env = os.environ.get
    p.add_argument("--subtensor.network", dest="network",
                   default=env("BT_SUBTENSOR_NETWORK", "finney"),
                   help="finney, test, local, archive or a ws(s):// URL "
                        "(env BT_SUBTENSOR_NETWORK; default finney)")
    p.add_argument("--subtensor.chain_endpoint", dest="chain_endpoint",
                   default=env("BT_SUBTENSOR_CHAIN_ENDPOINT"),
                   help="ws(s):// endpoint; wins over --subtensor.network "
                        "(env BT_SUBTENSOR_CHAIN_ENDPOINT)")
    p.add_argument("--wallet.name", dest="wallet_name", default=env("BT_WALLET_NAME"),
                   help=wallet_help)
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey",
                   default=env("BT_WALLET_HOTKEY", "default"), help="env BT_WALLET_HOTKEY")
    p.add_argument("--wallet.path", dest="wallet_path",
                   default=env("BT_WALLET_PATH", "~/.bittensor/wallets"),
                   help="env BT_WALLET_PATH")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m crucible_bridge",
        description="Mirror a subtensor into crucible's local chain directory and "
                    "submit the validator's weights.jsonl entries.",
        epilog="python -m crucible_bridge commit --help: publish a miner's model "
               "commitment instead.")
    p.add_argument("--netuid", type=int, help="required, except with --check-health")
    p.add_argument("--chain-dir", required=True,
                   help="the DIR of `crucible validator --chain local:DIR`")
    add_chain_flags(p, "wallet for set-weights (env BT_WALLET_NAME); "
                       "without one the bridge only mirrors the chain")
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


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def parse_commit_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m crucible_bridge commit",
        description="Publish a model commitment (the line `crucible models hash FOLDER "
                    "--hotkey SS58 --repo ns/name --commit SHA` prints) as the commitment "
                    "of the wallet's hotkey on the subnet, then exit.")
    p.add_argument("--netuid", type=non_negative_int, required=True)
    p.add_argument("--commitment", required=True,
                   help="namespace/name:commit:secure_hash:competition_id (at most 128 "
                        "bytes); checked as the validator reads it before anything is sent")
    add_chain_flags(p, "the miner's wallet, whose hotkey commits (env BT_WALLET_NAME); "
                       "required")
    args = p.parse_args(argv)
    if not args.wallet_name:
        p.error("the following arguments are required: --wallet.name")
    return args


def wallet_address(args, load_hotkey_address) -> str:
    """The hotkey address of the wallet the flags name; WalletError when it does
    not load. load_hotkey_address(name, hotkey, path) defaults to the SDK's."""
    if load_hotkey_address is None:
        from .sdk_chain import wallet_hotkey_address as load_hotkey_address
    return check_wallet(os.path.expanduser(args.wallet_path), args.wallet_name,
                        args.wallet_hotkey, load_hotkey_address)


def connect_sdk(network: str, wallet_name: str, wallet_hotkey: str, wallet_path: str):
    """An SdkChain that leaves the console to the commit command's own line."""
    from .sdk_chain import SdkChain, import_sdk, quiet_sdk

    import_sdk()
    quiet_sdk()
    chain = SdkChain(network, wallet_name, wallet_hotkey, wallet_path)
    quiet_sdk()  # making a Subtensor can set the SDK's logging up again
    return chain


def commit_main(argv, load_hotkey_address=None, connect=None) -> int:
    """`commit`: check the string and the wallet (exit 2), publish (exit 0, or 1
    when the chain refuses or cannot be reached); one line either way.
    connect(network, wallet name, hotkey, path) makes the Chain (tests: a fake)."""
    args = parse_commit_args(argv)
    try:
        commitment = check_commitment(args.commitment)
        address = wallet_address(args, load_hotkey_address)
    except (CommitmentError, WalletError) as error:
        print(f"crucible-bridge: {error}", file=sys.stderr)
        return 2
    network = args.chain_endpoint or args.network
    try:
        chain = (connect or connect_sdk)(network, args.wallet_name, args.wallet_hotkey,
                                         os.path.expanduser(args.wallet_path))
        if chain.own_uid(args.netuid) is None:
            result = SubmitResult(False, f"the hotkey is not registered on netuid {args.netuid}")
        else:
            result = chain.commit(args.netuid, commitment)
    except Exception as error:  # connecting, reading the uid or sending
        result = SubmitResult(False, one_line(error))
    where = f"hotkey {address} on netuid {args.netuid} ({network})"
    if not result.success:
        reason = " ".join(result.message.split()) or "the chain gave no reason"
        print(f"crucible-bridge: commit failed for {where}: {reason}", file=sys.stderr)
        return 1
    print(f"committed {commitment} as {where}")
    return 0


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


def main(argv=None, load_hotkey_address=None, connect=None) -> int:
    """The command line. load_hotkey_address(name, hotkey, path) reads the wallet's
    hotkey address (default: through the SDK); the tests pass a fake, and for
    `commit` a connect() that makes a fake chain."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["commit"]:
        return commit_main(argv[1:], load_hotkey_address, connect)
    args = parse_args(argv)
    if args.check_health:  # reads one file; never imports the SDK
        healthy, message = check_health(args.chain_dir, args.max_age)
        print(message, file=sys.stdout if healthy else sys.stderr)
        return 0 if healthy else 1
    wallet_path = os.path.expanduser(args.wallet_path)
    address = None  # the wallet's hotkey address, once checked
    if args.wallet_name:  # a wrong wallet stops the start, before connecting
        try:
            address = wallet_address(args, load_hotkey_address)
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
