#!/usr/bin/env python3
"""git daemon --access-hook: clones from anywhere, pushes only from the default gateway.

git daemon calls it with: service, path, hostname, canonical hostname, the server's IP and
port; the client's address is in REMOTE_ADDR (set by git daemon for the connection's process).
The default gateway of the container's network is the Docker host: a push through the port
published on the host's loopback arrives from it, a push from another container does not.
"""

import os
import socket
import struct
import sys

service = sys.argv[1] if len(sys.argv) > 1 else ""
client = os.environ.get("REMOTE_ADDR", "")
if service == "upload-pack":
    sys.exit(0)
with open("/proc/net/route", encoding="ascii") as fh:
    for line in fh.readlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000" and int(fields[3], 16) & 2:
            gateway = socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
            if client == gateway:
                sys.exit(0)
print(f"push refused from {client}: only the Docker host pushes here")
sys.exit(1)
