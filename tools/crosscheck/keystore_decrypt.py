#!/usr/bin/env python3
"""Decrypts a keystore file with eth-account and prints the address: proves files we write
are readable by the Ethereum tooling.   keystore_decrypt.py FILE PASSWORD"""
import json
import sys

from eth_account import Account

key = Account.decrypt(json.loads(open(sys.argv[1]).read()), sys.argv[2])
print(Account.from_key(key).address)
