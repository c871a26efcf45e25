"""Where provisioning writes: the hub's database directly, or the hub's admin API.

On the hub's own machine an operator points ``gatecheck provision`` at the database; from
anywhere else (a laptop at the site) at the hub's URL with an admin account. Both do the
same things through the same ``Registry`` interface, so every command works either way.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from sqlalchemy import Engine

from provisioning import registry
from provisioning.bundle import DeviceBundle
from provisioning.errors import ProvisioningError, UnknownRecord
from provisioning.models import DeviceEnrol, DeviceRecord, OrganisationRecord, SiteCreate, SiteRecord


class Registry(Protocol):
    def create_organisation(self, name: str) -> OrganisationRecord: ...
    def list_organisations(self) -> list[OrganisationRecord]: ...
    def create_site(self, request: SiteCreate) -> SiteRecord: ...
    def list_sites(self) -> list[SiteRecord]: ...
    def enrol_device(self, request: DeviceEnrol) -> DeviceBundle: ...
    def rotate_device(self, device_id: str, hub_url: str | None) -> DeviceBundle: ...
    def revoke_device(self, device_id: str) -> DeviceRecord: ...
    def list_devices(self, site_id: str | None) -> list[DeviceRecord]: ...


class DatabaseRegistry:
    """Straight into the hub's database (SQLite file or PostgreSQL URL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_organisation(self, name: str) -> OrganisationRecord:
        org_id = registry.ensure_organisation(self.engine, name)
        return next(o for o in registry.list_organisations(self.engine) if o.id == org_id)

    def list_organisations(self) -> list[OrganisationRecord]:
        return registry.list_organisations(self.engine)

    def create_site(self, request: SiteCreate) -> SiteRecord:
        return registry.create_site(
            self.engine,
            request.name,
            request.timezone,
            request.policy,
            request.organisation,
            request.report_deadline,
        )

    def list_sites(self) -> list[SiteRecord]:
        return registry.list_sites(self.engine)

    def enrol_device(self, request: DeviceEnrol) -> DeviceBundle:
        return registry.enrol_device(self.engine, request.site_id, request.gate, request.hub_url)

    def rotate_device(self, device_id: str, hub_url: str | None) -> DeviceBundle:
        return registry.rotate_device(self.engine, device_id, hub_url)

    def revoke_device(self, device_id: str) -> DeviceRecord:
        return registry.revoke_device(self.engine, device_id)

    def list_devices(self, site_id: str | None) -> list[DeviceRecord]:
        return registry.list_devices(self.engine, site_id=site_id)


_ORGANISATIONS = TypeAdapter(list[OrganisationRecord])
_SITES = TypeAdapter(list[SiteRecord])
_DEVICES = TypeAdapter(list[DeviceRecord])


class AdminApiRegistry:
    """Through the hub's ``/api/v1/admin`` routes with an admin's username and password."""

    def __init__(self, hub_url: str, username: str, password: str, verify: str | bool = True) -> None:
        self.client = httpx.Client(
            base_url=hub_url.rstrip("/") + "/api/v1/admin",
            auth=(username, password),
            timeout=30,
            verify=verify,
        )

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self.client.request(
                method, path, json=body, params={k: v for k, v in params.items() if v is not None}
            )
        except httpx.HTTPError as exc:
            raise ProvisioningError(f"cannot reach the hub at {self.client.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise ProvisioningError("the hub refused the admin username or password")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            error = UnknownRecord if response.status_code == 404 else ProvisioningError
            raise error(f"the hub answered {response.status_code}: {detail}")
        return response.json()

    def create_organisation(self, name: str) -> OrganisationRecord:
        return OrganisationRecord.model_validate(self._call("POST", "/organisations", {"name": name}))

    def list_organisations(self) -> list[OrganisationRecord]:
        return _ORGANISATIONS.validate_python(self._call("GET", "/organisations"))

    def create_site(self, request: SiteCreate) -> SiteRecord:
        return SiteRecord.model_validate(self._call("POST", "/sites", request.model_dump(mode="json")))

    def list_sites(self) -> list[SiteRecord]:
        return _SITES.validate_python(self._call("GET", "/sites"))

    def enrol_device(self, request: DeviceEnrol) -> DeviceBundle:
        return DeviceBundle.model_validate(self._call("POST", "/devices", request.model_dump(mode="json")))

    def rotate_device(self, device_id: str, hub_url: str | None) -> DeviceBundle:
        return DeviceBundle.model_validate(
            self._call("POST", f"/devices/{quote(device_id, safe='')}/rotate", {"hub_url": hub_url})
        )

    def revoke_device(self, device_id: str) -> DeviceRecord:
        return DeviceRecord.model_validate(self._call("POST", f"/devices/{quote(device_id, safe='')}/revoke"))

    def list_devices(self, site_id: str | None) -> list[DeviceRecord]:
        return _DEVICES.validate_python(self._call("GET", "/devices", site_id=site_id))
