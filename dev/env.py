"""The webmail's settings for a local stack: one place for the demo, the tests and benchmarks."""

from __future__ import annotations

import secrets

from dev.stack import Stack


def webmail_env(stack: Stack, **overrides: str) -> dict[str, str]:
    data_dir = stack.state_dir / "webmail"
    data_dir.mkdir(exist_ok=True)
    env = {
        "MSS_DATA_DIR": str(data_dir),
        "MSS_IMAP_HOST": stack.imap_host,
        "MSS_IMAP_PORT": str(stack.imap),
        "MSS_IMAP_TLS": "starttls",
        "MSS_SMTP_HOST": "localhost",
        "MSS_SMTP_PORT": str(stack.submission),
        "MSS_SMTP_TLS": "starttls",
        "MSS_CA_BUNDLE": str(stack.ca_cert),
        "MSS_REDIS_URL": f"redis://127.0.0.1:{stack.redis}/0",
        # Generated per run: the local stack never has a fixed secret.
        "MSS_SECRET_KEY": secrets.token_urlsafe(48),
        "MSS_COOKIE_SECURE": "false",  # served over plain http on loopback
        "MSS_IMAP_TIMEOUT_SECONDS": "5",
    }
    env.update(overrides)
    return env
