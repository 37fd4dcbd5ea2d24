#!/usr/bin/env python3
"""Write the generated tables of ``docs/container.md`` from the container option table.

    .venv/bin/python scripts/gen_container_docs.py          # rewrite the tables in place
    .venv/bin/python scripts/gen_container_docs.py --check  # exit 1 when the docs are stale

Two tables, each between ``<!-- BEGIN generated: KEY -->`` / ``<!-- END generated: KEY -->``:
``options`` (every row of ``chain_docker_spec.OPTIONS``) and ``migration`` (from Salt's old
``docker_container.running`` / ``docker_image.present`` / ``docker_network.present`` /
``docker_volume.present`` to ours). The container part of the migration table is derived from
the option table: an old option name is "accepted" exactly when the table accepts it.
"""

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "container.md"
sys.path.insert(0, str(REPO / "_utils"))

import chain_docker_spec as spec  # noqa: E402  pylint: disable=wrong-import-position

# The container options of saltext-dockermod's docker_container.running (its translate module's
# functions and ALIASES, src/saltext/dockermod/utils/dockermod/translate/container.py).
OLD_OPTIONS = """auto_remove binds blkio_weight blkio_weight_device cap_add cap_drop command
cpuset_cpus cpuset_mems cpu_group cpu_period cpu_shares detach device_read_bps device_read_iops
device_write_bps device_write_iops devices dns_opt dns_search dns domainname entrypoint
environment extra_hosts group_add host_config hostname ipc_mode isolation labels links
log_driver log_opt lxc_conf mac_address mem_limit mem_swappiness memswap_limit name
network_disabled network_mode oom_kill_disable oom_score_adj pid_mode pids_limit port_bindings
ports privileged publish_all_ports read_only restart_policy security_opt shm_size stdin_open
stop_signal stop_timeout storage_opt sysctls tmpfs tty ulimits user userns_mode volume_driver
volumes volumes_from working_dir cmd cpuset dns_option env expose interactive ipc label memory
memory_swap publish publish_all restart rm sysctl security_opts ulimit user_ns_mode volume
workdir""".split()

# Where an old name means something else here, or is not taken.
DIFFERS = {
    "ports": "old `ports` only exposed ports: that is `expose` here; `ports` here publishes "
    "(the old `port_bindings`)",
    "expose": "old `expose` was an alias of `ports` (exposed ports): same meaning here",
    "port_bindings": "same entries; IPv6 host addresses in brackets (`[::1]:8080:80`) work",
    "publish": "same as `port_bindings`",
    "volumes": "entries may be `SRC:DST[:MODE]` (binds) or `/path` (anonymous volume)",
    "volume": "same as `volumes`",
    "binds": "also anonymous volumes (`/path`); compared as a set",
    "stop_timeout": "in `container.running` this is the state's grace before it kills a container "
    "it stops; `container.create` sets the container's `StopTimeout`",
    "log_driver": "merged with `log_opt` into `log_config`",
    "log_opt": "merged with `log_driver` into `log_config`",
    "labels": "compared allow_more_present by default; the image's labels are merged",
    "label": "see `labels`",
    "environment": "the image's variables are merged; secret-named values are masked in changes",
    "env": "see `environment`",
    "healthcheck": "`{test, interval, timeout, start_period, retries}` with durations like `2s`",
    "restart_policy": "`on-failure:x` and retry counts on other policies are refused",
    "mem_limit": "changed in place (`docker update`), no recreate",
    "memory": "changed in place (`docker update`), no recreate",
}
NOT_TAKEN = {
    "cpu_group": "Windows only (not in Engine API 1.41 for Linux)",
    "isolation": "Windows only",
    "lxc_conf": "removed from the Docker Engine API",
    "detach": "containers are always created detached",
    "host_config": "give the options themselves; the body is derived from them",
    "name": "the state's `name`",
}
OLD_STATE_ARGS = [
    ("docker_container.running", "image", "`image`", "a new image id behind the name recreates"),
    (
        "docker_container.running",
        "force",
        "-",
        "declared differences recreate; `comparisons` "
        "chooses strict / ignore / allow_more_present per field",
    ),
    (
        "docker_container.running",
        "watch_action: force",
        "`watch_action: recreate`",
        "also `restart` or `none`",
    ),
    ("docker_container.running", "start: false", "`container.stopped`", ""),
    ("docker_container.running", "shutdown_timeout", "`stop_timeout`", "seconds of grace"),
    ("docker_container.running", "client_timeout", "profile `timeout`", "per engine profile"),
    (
        "docker_container.running",
        "skip_translate, ignore_collisions, validate_ip_addrs",
        "-",
        "input is always validated and normalised",
    ),
    (
        "docker_container.running",
        "networks",
        "`networks`",
        "allow_more_present by default; connected in place, no recreate",
    ),
    ("docker_image.present", "name + tag", "`name`", "one reference, `repo:tag`"),
    (
        "docker_image.present",
        "build",
        "`build`",
        "a salt:// or local context; rebuilt only when the digest of its inputs changes",
    ),
    ("docker_image.present", "dockerfile", "`dockerfile`", ""),
    ("docker_image.present", "buildargs", "`buildargs`", "`base_image` sets `BASE_IMAGE`"),
    ("docker_image.present", "force", "`pull: always`", "pulls every run, reports a moved id"),
    ("docker_image.present", "load, sls, base", "-", "not supported: build from a Dockerfile"),
    ("docker_image.present", "insecure_registry", "-", "loopback registries need no flag"),
    ("docker_network.present", "driver", "`driver`", ""),
    ("docker_network.present", "driver_opts / options", "`options`", ""),
    ("docker_network.present", "ipam_pools / subnet, gateway", "`subnet`, `gateway`", "one pool"),
    ("docker_network.present", "internal, enable_ipv6, labels", "same names", ""),
    (
        "docker_network.present",
        "containers, reconnect",
        "-",
        "containers declare `networks`; a recreated network reconnects them",
    ),
    ("docker_volume.present", "driver, driver_opts", "same names", ""),
    ("docker_volume.present", "force", "`recreate: options-changed`", "the volume's data is lost"),
    ("docker_volume.present", "-", "`labels`", "new"),
]


def migration_table():
    rows = ["| old state | old argument | ours | differs in |", "|---|---|---|---|"]
    for old in sorted(OLD_OPTIONS):
        ours = spec.ALIASES.get(old, old)
        if old in ("log_driver", "log_opt"):
            ours = "log_config"
        if old in spec.ACCEPTED:
            note = DIFFERS.get(old, "same")
            rows.append(f"| docker_container.running | `{old}` | `{ours}` | {note} |")
        else:
            rows.append(f"| docker_container.running | `{old}` | - | {NOT_TAKEN[old]} |")
    for state, old, ours, note in OLD_STATE_ARGS:
        rows.append(f"| {state} | {old} | {ours} | {note} |")
    return "\n".join(rows)


GENERATED = {"options": spec.option_table, "migration": migration_table}


def render(text):
    for key, make in GENERATED.items():
        pattern = re.compile(
            rf"(<!-- BEGIN generated: {key} [^\n]*-->\n)(?:.*?\n)?(<!-- END generated: {key} -->)",
            re.S,
        )
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: markers for '{key}' are missing")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv):
    current = DOC.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print(f"{DOC} is out of date: run scripts/gen_container_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
