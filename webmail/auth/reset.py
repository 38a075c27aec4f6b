"""``python -m webmail.auth.reset ADDRESS...``: the operator's reset of a second factor.

For a user who lost their phone and recovery codes, or for every user after a change of
``MSS_SECRET_KEY`` (their secrets can no longer be read). It forgets the account's factor in
Redis and in the registry of enrolled accounts: at the next login the password alone enrols
a new one, so check who is asking (a call back to the practice) before running it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import SessionStoreUnavailable
from webmail.auth.totp import SecondFactorStore
from webmail.ops.redis_client import redis_client
from webmail.settings import Settings, SettingsError


async def reset(settings: Settings, accounts: list[str]) -> None:
    registry = EnrolmentRegistry(settings.data_dir / "enrolled-accounts", settings.secret_key)
    redis = redis_client(settings.redis)  # the URL's Redis or Sentinel's primary
    try:
        store = SecondFactorStore(redis, settings.secret_key)
        for account in accounts:
            in_redis = await store.forget(account)
            listed = registry.remove(account)
            found = "reset" if in_redis or listed else "had no second factor"
            print(f"{account}: {found}")
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webmail.auth.reset", description=__doc__)
    parser.add_argument("accounts", nargs="+", metavar="ADDRESS")
    args = parser.parse_args(argv)
    try:
        asyncio.run(reset(Settings.from_env(), args.accounts))
    except SettingsError as error:
        print(f"mss-webmail: configuration error: {error}", file=sys.stderr)
        return 2
    except SessionStoreUnavailable as error:
        print(f"mss-webmail: Redis unreachable: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
