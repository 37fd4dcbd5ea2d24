#!/bin/bash
# Writes /etc/haproxy/haproxy.cfg from the CHAIN_* environment, then runs haproxy in the
# foreground (master-worker, so a reload keeps the listeners).
set -euo pipefail
case "$CHAIN_BACKEND" in *[!a-zA-Z0-9_.-]*|'') echo "CHAIN_BACKEND: bad name" >&2; exit 2;; esac
for v in CHAIN_PORT CHAIN_APP_PORT CHAIN_SLOTS CHAIN_STATS_PORT; do
  case "${!v}" in *[!0-9]*|'') echo "$v: expected a number" >&2; exit 2;; esac
done
cat > /etc/haproxy/haproxy.cfg <<CFG
global
    stats socket /run/haproxy/admin.sock mode 600 level admin
    stats timeout 30s
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    # A request that cannot reach a server (refused, reset before a response) is sent to
    # another one: a replica leaving at the wrong time costs a retry, not a failed request.
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-server-close

frontend chain
    bind :${CHAIN_PORT}
    default_backend ${CHAIN_BACKEND}

backend ${CHAIN_BACKEND}
    balance roundrobin
    option httpchk GET ${CHAIN_HEALTH_PATH}
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 init-addr none
    # Every slot starts in maintenance; container_service sets its address and readiness.
    server-template s 1-${CHAIN_SLOTS} 127.0.0.1:${CHAIN_APP_PORT} check disabled

listen stats
    bind :${CHAIN_STATS_PORT}
    stats enable
    stats uri /
    stats refresh 2s
CFG
haproxy -c -q -f /etc/haproxy/haproxy.cfg
exec haproxy -W -db -f /etc/haproxy/haproxy.cfg
