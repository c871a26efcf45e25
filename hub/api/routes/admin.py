"""The admin API behind ``gatecheck provision --hub``: sites, device enrolment, key
rotation, revocation. Admins only; bundles carry a device's private key, so serve the hub
over HTTPS wherever this API is used off the machine. A request that cannot be carried
out (``RegistryError``) answers 422 with the reason, an unknown site or device 404
(handlers in hub/main.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from core.bundle import DeviceBundle
from hub.api.deps import AdminDep, EngineDep
from hub.records import (
    CategoryRecord,
    CategorySet,
    DefaultsChange,
    DefaultsRecord,
    DeviceEnrol,
    DeviceRecord,
    DeviceRotate,
    LevelKind,
    OrganisationCreate,
    OrganisationRecord,
    PolicyChange,
    PolicyVersionRecord,
    RegionCreate,
    RegionRecord,
    SiteCreate,
    SitePlacement,
    SiteRecord,
)
from hub.registry import DatabaseRegistry

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.put("/sites/{site_id}/policy", response_model=PolicyVersionRecord, status_code=201)
def set_site_policy(
    site_id: str, body: PolicyChange, engine: EngineDep, admin: AdminDep
) -> PolicyVersionRecord:
    """Change a site's gate rules: the changed fields, from when (default now), why. The
    new version reaches the gates by the downlink (ahead of its time when set ahead)."""
    return DatabaseRegistry(engine).set_policy(site_id, body, admin.username)


@router.get("/sites/{site_id}/policy", response_model=list[PolicyVersionRecord])
def site_policy_history(site_id: str, registry: RegistryDep) -> list[PolicyVersionRecord]:
    """Every version of a site's rules, newest first: who, when, from when, why."""
    return registry.policy_history(site_id)


async def database_registry(engine: EngineDep, admin: AdminDep) -> DatabaseRegistry:
    """The registry on this hub's database, for an authenticated admin."""
    return DatabaseRegistry(engine)


RegistryDep = Annotated[DatabaseRegistry, Depends(database_registry)]


@router.post("/organisations", response_model=OrganisationRecord, status_code=201)
def create_organisation(body: OrganisationCreate, registry: RegistryDep) -> OrganisationRecord:
    return registry.create_organisation(body.name)


@router.get("/organisations", response_model=list[OrganisationRecord])
def list_organisations(registry: RegistryDep) -> list[OrganisationRecord]:
    return registry.list_organisations()


@router.post("/sites", response_model=SiteRecord, status_code=201)
def create_site(body: SiteCreate, registry: RegistryDep) -> SiteRecord:
    return registry.create_site(body)


@router.get("/sites", response_model=list[SiteRecord])
def list_sites(registry: RegistryDep) -> list[SiteRecord]:
    return registry.list_sites()


@router.post("/devices", response_model=DeviceBundle, status_code=201)
def enrol_device(body: DeviceEnrol, registry: RegistryDep) -> DeviceBundle:
    return registry.enrol_device(body)


@router.get("/devices", response_model=list[DeviceRecord])
def list_devices(registry: RegistryDep, site_id: str | None = None) -> list[DeviceRecord]:
    return registry.list_devices(site_id)


@router.post("/devices/{device_id}/rotate", response_model=DeviceBundle)
def rotate_device(device_id: str, body: DeviceRotate, registry: RegistryDep) -> DeviceBundle:
    return registry.rotate_device(device_id, body.hub_url)


@router.post("/devices/{device_id}/revoke", response_model=DeviceRecord)
def revoke_device(device_id: str, registry: RegistryDep) -> DeviceRecord:
    return registry.revoke_device(device_id)


@router.post("/regions", response_model=RegionRecord, status_code=201)
def create_region(body: RegionCreate, registry: RegistryDep) -> RegionRecord:
    """A region under ``parent_id`` (none: a top region such as a city)."""
    return registry.create_region(body)


@router.get("/regions", response_model=list[RegionRecord])
def list_regions(registry: RegistryDep) -> list[RegionRecord]:
    """The region tree, each region after its parent, with the sites below each."""
    return registry.list_regions()


@router.put("/categories/{category_id}", response_model=CategoryRecord)
def set_category(category_id: str, body: CategorySet, registry: RegistryDep) -> CategoryRecord:
    """Add a kind of venue or rename one."""
    return registry.set_category(category_id, body)


@router.get("/categories", response_model=list[CategoryRecord])
def list_categories(registry: RegistryDep) -> list[CategoryRecord]:
    return registry.list_categories()


@router.put("/sites/{site_id}/placement", response_model=SiteRecord)
def place_site(site_id: str, body: SitePlacement, registry: RegistryDep) -> SiteRecord:
    """Put a site in a region and a category; its counts so far move with it."""
    return registry.place_site(site_id, body)


_LEVELS: dict[str, LevelKind] = {"organisations": "org", "regions": "region"}


@router.put("/{level}/{scope_id}/policy", response_model=DefaultsRecord, status_code=201)
def set_defaults(
    level: Literal["organisations", "regions"],
    scope_id: str,
    body: DefaultsChange,
    engine: EngineDep,
    admin: AdminDep,
) -> DefaultsRecord:
    """Change the defaults of every site of an organisation or below a region: fields set,
    fields given back to the level above (``inherit``), fields locked for every level and
    site below. Every site below whose rules change gets a new version at once."""
    return DatabaseRegistry(engine).set_defaults(_LEVELS[level], scope_id, body, admin.username)


@router.get("/{level}/{scope_id}/policy", response_model=list[DefaultsRecord])
def defaults_history(
    level: Literal["organisations", "regions"], scope_id: str, registry: RegistryDep
) -> list[DefaultsRecord]:
    """Every version of a level's defaults, newest first."""
    return registry.defaults_history(_LEVELS[level], scope_id)
