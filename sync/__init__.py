"""Sync: the device's uplink to the hub, and the wire protocol both ends share."""
