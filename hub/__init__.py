"""Hub: receives checks from devices and reports per-site daily counts to site managers."""
