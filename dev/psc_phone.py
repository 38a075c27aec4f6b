"""The dev "phone" of the Pro Santé Connect look-alike: what the e-CPS app does with a
backchannel (CIBA) sign-in request, for the tests and the demo.

The provider (dev/oidc/provider.mjs) lists pending requests at ``/dev/phone`` with their
binding message; approving one there is what a practitioner does in the e-CPS app.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from dev.psc import PscProvider


@dataclass(frozen=True)
class PhoneRequest:
    id: str
    national_id: str
    binding_message: str
    # pending, approved, denied, consumed (tokens issued) or expired
    state: str
    # How many times the webmail polled the token endpoint for this request.
    polls: int
    interval: int


class DevPhone:
    def __init__(self, psc: PscProvider) -> None:
        self.psc = psc
        self._context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))

    @property
    def url(self) -> str:
        return f"{self.psc.issuer}/dev/phone"

    def register(
        self, national_id: str, email: str, *, expires_in: int | None = None, interval: int = 1
    ) -> None:
        """A practitioner of ``email`` known by ``national_id``, whose requests may be
        polled every ``interval`` seconds and expire ``expires_in`` seconds after they start
        (default: the provider's)."""
        form = {"national_id": national_id, "email": email, "ciba_interval": str(interval)}
        if expires_in is not None:
            form["ciba_expires_in"] = str(expires_in)
        self._call(f"{self.psc.issuer}/dev/practitioners", form)

    def requests(self, national_id: str | None = None) -> list[PhoneRequest]:
        listed = self._call(self.url)
        assert isinstance(listed, list)
        found = [PhoneRequest(**entry) for entry in listed]
        return [r for r in found if national_id is None or r.national_id == national_id]

    def pending(self, national_id: str) -> PhoneRequest:
        waiting = [r for r in self.requests(national_id) if r.state == "pending"]
        assert len(waiting) == 1, f"{len(waiting)} requests pending for {national_id}"
        return waiting[0]

    def approve(self, request: PhoneRequest, acr: str = "eidas1") -> None:
        self._call(f"{self.url}/{request.id}/approve", {"acr": acr})

    def deny(self, request: PhoneRequest) -> None:
        self._call(f"{self.url}/{request.id}/deny", {})

    def _call(self, url: str, form: dict[str, str] | None = None) -> Any:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(  # noqa: S310 - the provider's own https URL
            url, data=data, headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=5) as reply:  # noqa: S310
                return json.load(reply)
        except urllib.error.HTTPError as error:
            with error:
                raise AssertionError(f"{url}: {error.code} {error.read()!r}") from None
