"""Start docker-registry with htpasswd auth from a file the formula writes on the host.

The host (formulas/chain/registry.sls) writes the bcrypt htpasswd file and mounts its directory
read-only at /etc/docker/registry/auth: the plain password never reaches the container (no
environment variable, no argument, no label). Debian's docker-registry, like distribution's, only
accepts bcrypt entries and reads the file when it starts.
"""

import os
import sys

HTPASSWD = os.environ.get("REGISTRY_HTPASSWD") or "/etc/docker/registry/auth/htpasswd"
CONFIG = "/etc/docker/registry/config.yml"

try:
    with open(HTPASSWD, encoding="utf-8") as fh:
        entries = [line for line in fh.read().splitlines() if line.strip()]
except OSError as err:
    sys.exit(f"chain-registry: cannot read {HTPASSWD}: {err.strerror}")
if not entries or not all(":$2" in line for line in entries):
    sys.exit(f"chain-registry: {HTPASSWD} must hold bcrypt entries (htpasswd -B)")
realm = os.environ.get("REGISTRY_REALM") or "saltext-chain"

with open(CONFIG, "w", encoding="utf-8") as fh:
    fh.write(
        "version: 0.1\n"
        "log:\n  level: info\n"
        "storage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\n"
        "  delete:\n    enabled: true\n"
        "http:\n  addr: 0.0.0.0:5000\n"
        f"auth:\n  htpasswd:\n    realm: {realm}\n    path: {HTPASSWD}\n"
    )
os.execv("/usr/bin/docker-registry", ["docker-registry", "serve", CONFIG])
