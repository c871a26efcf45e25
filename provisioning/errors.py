"""The one error provisioning raises: a request that cannot be carried out."""


class ProvisioningError(Exception):
    """A site, device or issuer request that cannot be carried out (the message says why)."""


class UnknownRecord(ProvisioningError):
    """The site or device named does not exist."""
