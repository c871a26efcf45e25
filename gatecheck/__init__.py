"""gatecheck: the umbrella command line and the end-to-end demo.

The product lives in the four parts named by the product card: ``edge`` (the gate),
``sync`` (the uplink agent), ``hub`` (the site managers' server) and ``provisioning``
(the operator's tool), over the shared layer ``core``. This package only ties them
together; nothing below imports it.
"""
