"""Pure logic of the container module: normalisation, build input digests.

The option table itself (normalisers, comparison) is tested in
tests/unit/utils/test_chain_docker_spec.py; FROM/ARG parsing in test_chain_docker_build.py and
registry URLs in test_chain_registry.py.
"""

import pytest
from salt.exceptions import SaltInvocationError

from _modules import container, container_images


@pytest.fixture
def configure_loader_modules():
    return {
        mod: {"__salt__": {}, "__opts__": {}, "__context__": {}}
        for mod in (container, container_images)
    }


def test_normalize_shapes_and_rejects_unknown():
    spec = container.normalize(
        image="app:1",
        command="sh -c 'echo hi'",
        environment=["A=1", {"B": True}],
        labels={"x": 1},
        restart_policy="on-failure:3",
        memory="64m",
        cpus=1.5,
        cap_add="net_admin, CAP_SYS_TIME",
        healthcheck={"test": "true", "interval": "2s"},
        binds=["/src:/dst"],
        __pub_fun="x",
    )
    assert spec["command"] == ["sh", "-c", "echo hi"]
    assert spec["environment"] == {"A": "1", "B": "true"}
    assert spec["labels"] == {"x": "1"}
    assert spec["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert spec["memory"] == 64 * 1024 * 1024 and spec["cpus"] == 1_500_000_000
    assert spec["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert spec["healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 2 * 10**9}
    assert spec["binds"] == [("/src", "/dst", "rw")]
    with pytest.raises(SaltInvocationError, match="unknown container argument"):
        container.normalize(image="app:1", prots=["1:1"])
    with pytest.raises(SaltInvocationError, match="image"):
        container.normalize(image="")
    with pytest.raises(SaltInvocationError, match="network_mode"):
        container.normalize(image="a", networks=["n"], network_mode="host")


def test_build_inputs_digest_honours_dockerignore(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "debug.log").write_text("x\n")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    first = container_images.build_inputs_digest(str(tmp_path))
    (tmp_path / "debug.log").write_text("y\n")
    assert container_images.build_inputs_digest(str(tmp_path)) == first
    (tmp_path / "app.py").write_text("print(2)\n")
    second = container_images.build_inputs_digest(str(tmp_path))
    assert second != first
    assert container_images.build_inputs_digest(str(tmp_path), buildargs={"V": "1"}) != second
    assert container_images.build_inputs_digest(str(tmp_path), target="prod") != second
    (tmp_path / "app.py").chmod(0o755)
    assert container_images.build_inputs_digest(str(tmp_path)) != second


def test_digest_takes_labels_and_list_buildargs(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    plain = container_images.build_inputs_digest(str(tmp_path))
    assert container_images.build_inputs_digest(str(tmp_path), labels={"a": "1"}) != plain
    assert container_images.build_inputs_digest(
        str(tmp_path), buildargs=["V=1"]
    ) == container_images.build_inputs_digest(str(tmp_path), buildargs={"V": "1"})
