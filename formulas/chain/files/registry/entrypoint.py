"""Start docker-registry with htpasswd auth for one user from the environment.

The bcrypt hash is written at every start (Debian's docker-registry, like distribution's, only
accepts bcrypt in htpasswd files); the password itself is dropped from the environment of the
registry process.
"""

import crypt
import os
import sys

HTPASSWD = "/etc/docker/registry/htpasswd"
CONFIG = "/etc/docker/registry/config.yml"

user = os.environ.get("REGISTRY_USERNAME", "")
password = os.environ.pop("REGISTRY_PASSWORD", "")
if not user or not password or ":" in user:
    sys.exit("chain-registry: REGISTRY_USERNAME and REGISTRY_PASSWORD must be set")
realm = os.environ.get("REGISTRY_REALM") or "saltext-chain"

old = os.umask(0o077)
with open(HTPASSWD, "w", encoding="utf-8") as fh:
    fh.write(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
os.umask(old)
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
