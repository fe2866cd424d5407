#!/usr/bin/env python3
"""Writes keystore files made by eth-account for the Swift tests to decrypt:
scrypt (light and standard cost) and pbkdf2, with the password and key they hold."""
import json
import sys
from pathlib import Path

from eth_account import Account

out = Path(sys.argv[1] if len(sys.argv) > 1 else "Tests/CryptoTests/Fixtures")
out.mkdir(parents=True, exist_ok=True)
key = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
cases = {
    "eth-account-scrypt-light": dict(kdf="scrypt", iterations=1024),
    "eth-account-scrypt-standard": dict(kdf="scrypt"),
    "eth-account-pbkdf2": dict(kdf="pbkdf2", iterations=1000),
}
for name, kwargs in cases.items():
    encrypted = Account.encrypt(key, "testpassword", **kwargs)
    (out / f"{name}.json").write_text(json.dumps({"password": "testpassword", "key": key, "keystore": encrypted}, indent=1))
print(f"wrote {len(cases)} fixtures to {out}")
