"""``mss-webmail check-config``: is this deployment usable? One line per check, plain words.

Reads the settings as the webmail does, then reaches each server it needs (IMAP, SMTP, Redis,
Pro Santé Connect's discovery) with the configured CA bundle, and reports what it found:
TLS version, certificate expiry, STARTTLS and LOGINDISABLED, SASL mechanisms. Exit status 1
when any check failed (warnings alone exit 0), 2 when the settings themselves are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import RedisError

from webmail.auth.oidc import PscClient
from webmail.auth.oidc_errors import PscUnavailable
from webmail.ops.probes import Found, ProbeFailed, probe_imap, probe_smtp, tls_context
from webmail.ops.redis_client import redis_client
from webmail.settings import Settings, SettingsError


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    text: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name:<8} {self.text}"


def run_checks(settings: Settings) -> list[Result]:
    context = tls_context(str(settings.ca_bundle) if settings.ca_bundle else None)
    results = [
        _probe("imap", lambda: probe_imap(settings.imap, context)),
        _probe("smtp", lambda: probe_smtp(settings.smtp, context)),
        asyncio.run(_check_redis(settings)),
    ]
    if settings.psc is not None:
        results.append(asyncio.run(_check_psc(settings)))
    return results


def _probe(name: str, probe: Callable[[], Found]) -> Result:
    try:
        found = probe()
    except ProbeFailed as error:
        return Result(name, Status.FAIL, str(error))
    text = ", ".join(found.facts)
    if found.warnings:
        return Result(name, Status.WARN, f"{text}; {'; '.join(found.warnings)}")
    return Result(name, Status.OK, text)


async def _check_redis(settings: Settings) -> Result:
    where = settings.redis.describe()
    client = redis_client(settings.redis)
    try:
        await client.ping()
        pool = client.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            host, port = await pool.get_master_address()  # type: ignore[no-untyped-call]
            where += f", primary now {host}:{port}"
        role = (await client.info("replication")).get("role", "?")
    except (RedisError, OSError) as error:
        return Result("redis", Status.FAIL, f"{where}: unreachable ({error})")
    finally:
        await client.aclose()
    if role != "master":
        return Result("redis", Status.FAIL, f"{where}: answers but is a read-only {role}")
    return Result("redis", Status.OK, f"{where}: answers")


async def _check_psc(settings: Settings) -> Result:
    assert settings.psc is not None
    redis = redis_client(settings.redis)  # not used by discovery; the client wants one
    try:
        document = await PscClient(settings.psc, redis).metadata()
    except PscUnavailable as error:
        return Result("psc", Status.FAIL, f"{settings.psc.discovery_url}: {_psc_reason(error)}")
    finally:
        await redis.aclose()
    endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
    missing = [name for name in endpoints if not document.get(name)]
    if missing:
        return Result("psc", Status.WARN, f"discovery lacks {', '.join(missing)}")
    return Result("psc", Status.OK, f"{settings.psc.discovery_url}: issuer and endpoints present")


def _psc_reason(error: PscUnavailable) -> str:
    text = str(error)
    if isinstance(error.__cause__, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in text:
        return f"certificate refused ({text})"
    return text


def check_config(out: TextIO = sys.stdout) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(Result("settings", Status.FAIL, str(error)).line(), file=out)
        return 2
    print(Result("settings", Status.OK, "read and valid").line(), file=out)
    results = run_checks(settings)
    for result in results:
        print(result.line(), file=out)
    failed = [result.name for result in results if result.status is Status.FAIL]
    if failed:
        print(f"check-config: {len(failed)} check(s) failed: {', '.join(failed)}", file=out)
        return 1
    return 0


def register(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """``mss-webmail check-config`` (webmail.cli)."""
    return lambda args: check_config()
