"""Where provisioning writes: the hub's database directly, or the hub's admin API.

On the hub's own machine an operator points ``gatecheck provision`` at the database (the
hub's own library, ``hub.registry.DatabaseRegistry``); from anywhere else (a laptop at the
site) at the hub's URL with an admin account (``AdminApiRegistry``, which needs only
httpx and the records). Both do the same things through the same ``Registry`` interface,
so every command works either way.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from core.bundle import DeviceBundle
from hub.records import (
    CategoryRecord,
    CategorySet,
    DefaultsChange,
    DefaultsRecord,
    DeviceEnrol,
    DeviceRecord,
    LevelKind,
    OrganisationRecord,
    PolicyChange,
    PolicyVersionRecord,
    RegionCreate,
    RegionRecord,
    RegistryError,
    SiteCreate,
    SitePlacement,
    SiteRecord,
    UnknownRecord,
)


class Registry(Protocol):
    def create_organisation(self, name: str) -> OrganisationRecord: ...
    def list_organisations(self) -> list[OrganisationRecord]: ...
    def create_site(self, request: SiteCreate) -> SiteRecord: ...
    def list_sites(self) -> list[SiteRecord]: ...
    def set_policy(self, site_id: str, change: PolicyChange, author: str) -> PolicyVersionRecord: ...
    def policy_history(self, site_id: str) -> list[PolicyVersionRecord]: ...
    def enrol_device(self, request: DeviceEnrol) -> DeviceBundle: ...
    def rotate_device(self, device_id: str, hub_url: str | None) -> DeviceBundle: ...
    def revoke_device(self, device_id: str) -> DeviceRecord: ...
    def list_devices(self, site_id: str | None) -> list[DeviceRecord]: ...
    def create_region(self, request: RegionCreate) -> RegionRecord: ...
    def list_regions(self) -> list[RegionRecord]: ...
    def set_category(self, category_id: str, request: CategorySet) -> CategoryRecord: ...
    def list_categories(self) -> list[CategoryRecord]: ...
    def place_site(self, site_id: str, request: SitePlacement) -> SiteRecord: ...
    def set_defaults(
        self, kind: LevelKind, scope_id: str, change: DefaultsChange, author: str
    ) -> DefaultsRecord: ...
    def defaults_history(self, kind: LevelKind, scope_id: str) -> list[DefaultsRecord]: ...


_ORGANISATIONS = TypeAdapter(list[OrganisationRecord])
_SITES = TypeAdapter(list[SiteRecord])
_DEVICES = TypeAdapter(list[DeviceRecord])
_VERSIONS = TypeAdapter(list[PolicyVersionRecord])
_REGIONS = TypeAdapter(list[RegionRecord])
_CATEGORIES = TypeAdapter(list[CategoryRecord])
_DEFAULTS = TypeAdapter(list[DefaultsRecord])
_LEVEL_PATHS: dict[LevelKind, str] = {"org": "organisations", "region": "regions"}


def _level_path(kind: LevelKind, scope_id: str) -> str:
    return f"/{_LEVEL_PATHS[kind]}/{quote(scope_id, safe='')}/policy"


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
            raise RegistryError(f"cannot reach the hub at {self.client.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise RegistryError("the hub refused the admin username or password")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            error = UnknownRecord if response.status_code == 404 else RegistryError
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

    def set_policy(self, site_id: str, change: PolicyChange, author: str) -> PolicyVersionRecord:
        """``author`` is the admin account the hub knows the caller by (not sent)."""
        path = f"/sites/{quote(site_id, safe='')}/policy"
        return PolicyVersionRecord.model_validate(self._call("PUT", path, change.model_dump(mode="json")))

    def policy_history(self, site_id: str) -> list[PolicyVersionRecord]:
        return _VERSIONS.validate_python(self._call("GET", f"/sites/{quote(site_id, safe='')}/policy"))

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

    def create_region(self, request: RegionCreate) -> RegionRecord:
        return RegionRecord.model_validate(self._call("POST", "/regions", request.model_dump(mode="json")))

    def list_regions(self) -> list[RegionRecord]:
        return _REGIONS.validate_python(self._call("GET", "/regions"))

    def set_category(self, category_id: str, request: CategorySet) -> CategoryRecord:
        path = f"/categories/{quote(category_id, safe='')}"
        return CategoryRecord.model_validate(self._call("PUT", path, request.model_dump(mode="json")))

    def list_categories(self) -> list[CategoryRecord]:
        return _CATEGORIES.validate_python(self._call("GET", "/categories"))

    def place_site(self, site_id: str, request: SitePlacement) -> SiteRecord:
        path = f"/sites/{quote(site_id, safe='')}/placement"
        return SiteRecord.model_validate(self._call("PUT", path, request.model_dump(mode="json")))

    def set_defaults(
        self, kind: LevelKind, scope_id: str, change: DefaultsChange, author: str
    ) -> DefaultsRecord:
        """``author`` is the admin account the hub knows the caller by (not sent)."""
        path = f"/{_LEVEL_PATHS[kind]}/{quote(scope_id, safe='')}/policy"
        return DefaultsRecord.model_validate(self._call("PUT", path, change.model_dump(mode="json")))

    def defaults_history(self, kind: LevelKind, scope_id: str) -> list[DefaultsRecord]:
        return _DEFAULTS.validate_python(
            self._call("GET", f"/{_LEVEL_PATHS[kind]}/{quote(scope_id, safe='')}/policy")
        )
