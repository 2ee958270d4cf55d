"""The wallet check at start: missing, unreadable and good hotkey files."""

import os
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.wallet import WalletError, check_wallet, hotkey_file  # noqa: E402


def never(name, hotkey, path):
    raise AssertionError("the address must not be loaded after a failed file check")


class WalletCheckTest(unittest.TestCase):
    def setUp(self):
        self.path = tempfile.mkdtemp()
        self.file = hotkey_file(self.path, "vali", "hot")
        self.where = f"wallet 'vali', hotkey 'hot' ({self.file})"

    def make_hotkey(self, content=b"{}"):
        os.makedirs(os.path.dirname(self.file), exist_ok=True)
        with open(self.file, "wb") as f:
            f.write(content)

    def check(self, load=never):
        return check_wallet(self.path, "vali", "hot", load)

    def test_hotkey_file_path(self):
        self.assertEqual(self.file, os.path.join(self.path, "vali", "hotkeys", "hot"))

    def test_missing(self):
        with self.assertRaises(WalletError) as caught:
            self.check()
        self.assertEqual(str(caught.exception),
                         f"{self.where}: the hotkey file does not exist; check --wallet.path, "
                         "--wallet.name and --wallet.hotkey")

    @unittest.skipIf(os.geteuid() == 0, "root reads a chmod 000 file")
    def test_permission_denied(self):
        self.make_hotkey()
        os.chmod(self.file, 0)
        self.addCleanup(os.chmod, self.file, 0o600)
        with self.assertRaisesRegex(WalletError, "permission denied .* uid 10001"):
            self.check()

    def test_permission_denied_message(self):
        self.make_hotkey()
        denied = PermissionError(13, "Permission denied")
        with mock.patch("crucible_bridge.wallet.open", side_effect=denied, create=True), \
                self.assertRaises(WalletError) as caught:
            self.check()
        self.assertEqual(str(caught.exception),
                         f"{self.where}: permission denied reading it as uid {os.getuid()}; "
                         "the container runs as uid 10001, so the wallet files must be "
                         "readable by uid 10001 (docs/docker.md, \"Wallets\")")

    def test_directory_instead_of_file(self):
        os.makedirs(self.file)
        with self.assertRaisesRegex(WalletError, "it is a directory, not a hotkey file$"):
            self.check()

    def test_content_that_does_not_load(self):
        self.make_hotkey(b"secret-looking garbage")

        def load(name, hotkey, path):
            raise ValueError("its content does not load as a hotkey (KeyFileError; ...)")

        with self.assertRaises(WalletError) as caught:
            self.check(load)
        self.assertEqual(str(caught.exception),
                         f"{self.where}: its content does not load as a hotkey "
                         "(KeyFileError; ...)")

    def test_good_wallet_gives_its_address(self):
        self.make_hotkey()
        calls = []

        def load(name, hotkey, path):
            calls.append((name, hotkey, path))
            return "5GoodAddress"

        self.assertEqual(self.check(load), "5GoodAddress")
        self.assertEqual(calls, [("vali", "hot", self.path)])


if __name__ == "__main__":
    unittest.main()
