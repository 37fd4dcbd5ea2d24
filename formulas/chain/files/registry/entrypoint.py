"""Start docker-registry with htpasswd auth from a file the formula writes on the host.

The host (formulas/chain/registry.sls) writes the bcrypt htpasswd file and mounts its directory
read-only at /etc/docker/registry/auth: the plain password never reaches the container (no
environment variable, no argument, no label). Debian's docker-registry, like distribution's, only
accepts bcrypt entries and reads the file when it starts.

TLS: with REGISTRY_HTTP_TLS_CERTIFICATE and REGISTRY_HTTP_TLS_KEY (files mounted read-only by
the formula) the registry serves HTTPS. ``chain-registry health`` is the image's health check
over HTTPS (``health.sh`` asks it when TLS is on): GET /v2/ answers 401 (auth required).
"""

import os
import sys

HTPASSWD = os.environ.get("REGISTRY_HTPASSWD") or "/etc/docker/registry/auth/htpasswd"
CONFIG = "/etc/docker/registry/config.yml"
CERT = os.environ.get("REGISTRY_HTTP_TLS_CERTIFICATE") or ""
KEY = os.environ.get("REGISTRY_HTTP_TLS_KEY") or ""

if sys.argv[1:] == ["health"]:
    import http.client
    import ssl

    if CERT:  # is it serving? (clients verify the certificate; the check does not)
        ctx = ssl._create_unverified_context()  # pylint: disable=protected-access
        conn = http.client.HTTPSConnection("127.0.0.1", 5000, timeout=2, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", 5000, timeout=2)
    conn.request("GET", "/v2/")
    sys.exit(0 if conn.getresponse().status == 401 else 1)

try:
    with open(HTPASSWD, encoding="utf-8") as fh:
        entries = [line for line in fh.read().splitlines() if line.strip()]
except OSError as err:
    sys.exit(f"chain-registry: cannot read {HTPASSWD}: {err.strerror}")
if not entries or not all(":$2" in line for line in entries):
    sys.exit(f"chain-registry: {HTPASSWD} must hold bcrypt entries (htpasswd -B)")
realm = os.environ.get("REGISTRY_REALM") or "saltext-chain"
tls = ""
if CERT or KEY:
    for path in (CERT, KEY):
        if not path or not os.access(path, os.R_OK):
            sys.exit(
                "chain-registry: REGISTRY_HTTP_TLS_CERTIFICATE and REGISTRY_HTTP_TLS_KEY must "
                f"both name readable files (got {path!r})"
            )
    tls = f"  tls:\n    certificate: {CERT}\n    key: {KEY}\n"

with open(CONFIG, "w", encoding="utf-8") as fh:
    fh.write(
        "version: 0.1\n"
        "log:\n  level: info\n"
        "storage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\n"
        "  delete:\n    enabled: true\n"
        "http:\n  addr: 0.0.0.0:5000\n"
        f"{tls}"
        f"auth:\n  htpasswd:\n    realm: {realm}\n    path: {HTPASSWD}\n"
    )
os.execv("/usr/bin/docker-registry", ["docker-registry", "serve", CONFIG])
