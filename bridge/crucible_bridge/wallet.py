"""The wallet check at start: the hotkey file exists, is readable and its ss58
address loads, before the bridge connects, instead of failing at the first
weights poll. Only names, paths and the public address are ever shown."""

from __future__ import annotations

import os
from typing import Callable


class WalletError(Exception):
    """What is wrong with the wallet, in one line that quotes no key material."""


def hotkey_file(path: str, name: str, hotkey: str) -> str:
    """Where the SDK keeps a wallet's hotkey (tests/test_sdk_drift.py checks it)."""
    return os.path.join(path, name, "hotkeys", hotkey)


def check_wallet(path: str, name: str, hotkey: str,
                 load_address: Callable[[str, str, str], str]) -> str:
    """The wallet's hotkey ss58 address; WalletError saying what is wrong.

    load_address(name, hotkey, path) reads the address through the SDK
    (sdk_chain.wallet_hotkey_address) and raises ValueError with a safe message."""
    where = f"wallet {name!r}, hotkey {hotkey!r} ({hotkey_file(path, name, hotkey)})"
    try:
        with open(hotkey_file(path, name, hotkey), "rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise WalletError(f"{where}: the hotkey file does not exist; check --wallet.path, "
                          f"--wallet.name and --wallet.hotkey") from None
    except PermissionError:
        raise WalletError(f"{where}: permission denied reading it as uid {os.getuid()}; the "
                          f"container runs as uid 10001, so the wallet files must be readable "
                          f"by uid 10001 (docs/docker.md, \"Wallets\")") from None
    except IsADirectoryError:
        raise WalletError(f"{where}: it is a directory, not a hotkey file") from None
    except OSError as error:
        raise WalletError(f"{where}: cannot read it: {error.strerror}") from None
    try:
        return load_address(name, hotkey, path)
    except ValueError as error:
        raise WalletError(f"{where}: {error}") from None
