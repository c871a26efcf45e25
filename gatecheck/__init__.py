"""gatecheck: the umbrella command line and the end-to-end demo.

The product lives in the four parts named by the product card: ``edge`` (the gate),
``sync`` (the uplink and the wire protocol), ``hub`` (the site managers' server) and
``provisioning`` (sites, devices, credentials). This package only ties them together.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
