"""The admin API behind ``gatecheck provision --hub``: sites, device enrolment, key
rotation, revocation. Admins only; bundles carry a device's private key, so serve the hub
over HTTPS wherever this API is used off the machine."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from hub.api.deps import AdminDep, EngineDep
from provisioning import registry
from provisioning.backends import DatabaseRegistry
from provisioning.bundle import DeviceBundle
from provisioning.errors import ProvisioningError, UnknownRecord
from provisioning.models import (
    DeviceEnrol,
    DeviceRecord,
    DeviceRotate,
    OrganisationCreate,
    OrganisationRecord,
    SiteCreate,
    SiteRecord,
)

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


def _refused(exc: ProvisioningError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, UnknownRecord) else 422, str(exc))


@router.post("/organisations", response_model=OrganisationRecord, status_code=201)
def create_organisation(body: OrganisationCreate, engine: EngineDep, admin: AdminDep) -> OrganisationRecord:
    try:
        return DatabaseRegistry(engine).create_organisation(body.name)
    except ProvisioningError as exc:
        raise _refused(exc) from exc


@router.get("/organisations", response_model=list[OrganisationRecord])
def list_organisations(engine: EngineDep, admin: AdminDep) -> list[OrganisationRecord]:
    return registry.list_organisations(engine)


@router.post("/sites", response_model=SiteRecord, status_code=201)
def create_site(body: SiteCreate, engine: EngineDep, admin: AdminDep) -> SiteRecord:
    try:
        return registry.create_site(
            engine, body.name, body.timezone, body.policy, body.organisation, body.report_deadline
        )
    except ProvisioningError as exc:
        raise _refused(exc) from exc


@router.get("/sites", response_model=list[SiteRecord])
def list_sites(engine: EngineDep, admin: AdminDep) -> list[SiteRecord]:
    return registry.list_sites(engine)


@router.post("/devices", response_model=DeviceBundle, status_code=201)
def enrol_device(body: DeviceEnrol, engine: EngineDep, admin: AdminDep) -> DeviceBundle:
    try:
        return registry.enrol_device(engine, body.site_id, body.gate, body.hub_url)
    except ProvisioningError as exc:
        raise _refused(exc) from exc


@router.get("/devices", response_model=list[DeviceRecord])
def list_devices(engine: EngineDep, admin: AdminDep, site_id: str | None = None) -> list[DeviceRecord]:
    return registry.list_devices(engine, site_id=site_id)


@router.post("/devices/{device_id}/rotate", response_model=DeviceBundle)
def rotate_device(device_id: str, body: DeviceRotate, engine: EngineDep, admin: AdminDep) -> DeviceBundle:
    try:
        return registry.rotate_device(engine, device_id, body.hub_url)
    except ProvisioningError as exc:
        raise _refused(exc) from exc


@router.post("/devices/{device_id}/revoke", response_model=DeviceRecord)
def revoke_device(device_id: str, engine: EngineDep, admin: AdminDep) -> DeviceRecord:
    try:
        return registry.revoke_device(engine, device_id)
    except ProvisioningError as exc:
        raise _refused(exc) from exc
