"""Prometheus metrics on a listener of their own, never on the public application.

Requests are labelled by route template (``/mail/message``), never by the raw URL: URLs carry
folder names and message numbers. Logins and sends are counted from the audit trail, the one
place every view already reports them, so no view knows about metrics.

One listener per process (``MSS_METRICS_LISTEN``): the webmail runs one uvicorn process per
instance (systemd's ``mss-webmail@PORT``), each given its own metrics port, and Prometheus
scrapes each. prometheus-client's multiprocess directory is not needed, as no process forks
workers that would share a port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webmail.security.audit import AuditLog
from webmail.settings import Settings

UNMATCHED = "other"


class Metrics:
    """The webmail's metrics, in a registry of their own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mss_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mss_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.logins = Counter(
            "mss_logins",
            "Sign-ins, by method (password, psc, ...) and result",
            ["method", "result"],
            registry=self.registry,
        )
        self.sends = Counter(
            "mss_smtp_sends",
            "Messages handed to SMTP, by outcome (ok, partial, or the failure's kind)",
            ["outcome"],
            registry=self.registry,
        )
        self.imap_open = Gauge(
            "mss_imap_connections_open",
            "IMAP connections this process holds open",
            registry=self.registry,
        )

    def watch_imap(self, count: Callable[[], int]) -> None:
        self.imap_open.set_function(count)

    def audited(self, action: str, result: str, target: Mapping[str, Any]) -> None:
        if action == "login":
            self.logins.labels(str(target.get("method", "password")), result).inc()
        elif action == "psc_login" and result != "ok":
            self.logins.labels("psc", result).inc()
        elif action == "message_sent":
            self.sends.labels(result).inc()

    def serve(self, listen: tuple[str, int]) -> WSGIServer:
        """The metrics listener, in a thread of its own (end it: shutdown, server_close)."""
        host, port = listen
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server

    def audit_log(self, settings: Settings) -> AuditLog:
        return CountingAuditLog(settings.audit_log, self)

    def middleware(self, routes: Sequence[BaseRoute]) -> Middleware:
        return Middleware(MetricsMiddleware, metrics=self, routes=routes)


class CountingAuditLog(AuditLog):
    """The audit trail, also counting the actions metrics are about."""

    def __init__(self, destination: str, metrics: Metrics) -> None:
        super().__init__(destination)
        self.metrics = metrics

    def record(
        self,
        action: str,
        *,
        account: str,
        client_ip: str = "",
        session: str = "",
        result: str = "ok",
        **target: Any,
    ) -> None:
        super().record(
            action, account=account, client_ip=client_ip, session=session, result=result, **target
        )
        self.metrics.audited(action, result, target)


class MetricsMiddleware:
    """Counts and times every HTTP request under its route's template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._template(scope)
        method = str(scope["method"])
        status = 500  # unless the answer says otherwise
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return str(getattr(route, "path", UNMATCHED))
        return UNMATCHED
