"""Provisioning: create sites and enrol devices, producing the device bundle."""
