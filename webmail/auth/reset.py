"""``python -m webmail.auth.reset ADDRESS...``: the operator's reset of a second factor.

For a user who lost their phone and recovery codes, or for every user after a change of
``MSS_SECRET_KEY`` (their secrets can no longer be read). It forgets the account's factor in
Redis and in the registry of enrolled accounts: at the next login the password alone enrols
a new one, so check who is asking (a call back to the practice) before running it. The
account's open sessions end too, in every app process (a lost phone may go with a device
still signed in).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from redis.asyncio import Redis

from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import SessionStore, SessionStoreUnavailable
from webmail.auth.totp import SecondFactorStore
from webmail.mail import broadcast
from webmail.ops.redis_client import redis_client
from webmail.settings import Settings, SettingsError


async def reset(settings: Settings, accounts: list[str]) -> None:
    registry = EnrolmentRegistry(settings.data_dir / "enrolled-accounts", settings.secret_key)
    redis = redis_client(settings.redis)  # the URL's Redis or Sentinel's primary
    try:
        store = SecondFactorStore(redis, settings.secret_key)
        sessions = SessionStore(
            redis, settings.session_idle_seconds, settings.session_absolute_seconds
        )
        for account in accounts:
            in_redis = await store.forget(account)
            listed = registry.remove(account)
            found = "reset" if in_redis or listed else "had no second factor"
            ended = await _end_sessions(redis, sessions, account)
            print(f"{account}: {found}, {ended} session(s) ended")
    finally:
        await redis.aclose()


async def _end_sessions(redis: Redis, sessions: SessionStore, account: str) -> int:
    ended = [session.id_hash for session in await sessions.sessions_of(account)]
    for id_hash in ended:
        await sessions.delete_by_hash(id_hash, account)
    await broadcast.publish(redis, ended)
    return len(ended)


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
