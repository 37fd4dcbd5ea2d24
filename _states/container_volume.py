"""
Docker volumes as Salt states.

.. versionadded:: 0.1.0

Volumes cannot change in place. A declared difference (driver, driver options, labels) is
reported and fails the state unless ``recreate: options-changed`` allows replacing the volume,
which loses its data; options the driver adds on its own are never compared.

.. code-block:: yaml

    jenkins-home:
      container_volume.present:
        - name: jenkins_home
        - labels:
            app: jenkins
"""

from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_docker_objects,
        chain_docker_states,
        chain_errors,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_objects
    import chain_docker_states
    import chain_errors
    import chain_state_args
    import chain_states

__virtualname__ = "container_volume"

RECREATE = ("never", "options-changed")


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "container.volume_inspect")


@chain_state_args.checked()
def present(name, driver=None, driver_opts=None, labels=None, recreate="never", profile=None):
    """
    Ensure a volume exists with the declared driver, options and labels.

    recreate
        ``never`` (default): a difference fails the state and nothing is touched;
        ``options-changed``: remove and recreate the volume (its data is lost).

    .. code-block:: yaml

        cache:
          container_volume.present:
            - driver_opts:
                type: tmpfs
                device: tmpfs
            - recreate: options-changed
    """
    ret = chain_states.new_ret(name)
    removed = False
    try:
        # All input checked before the engine is asked anything.
        if recreate not in RECREATE:
            raise SaltInvocationError(f"recreate must be one of {', '.join(RECREATE)}")
        spec = chain_docker_objects.volume_spec(driver, driver_opts, labels)
        chain_docker_objects.name(name)
        cmp = __salt__["container.volume_compare"](name, profile=profile, **spec)
        create = dict(spec, driver=driver or "local")
        if chain_docker_states.settled(
            ret,
            "Volume",
            name,
            __opts__["test"],
            cmp,
            lambda: __salt__["container.volume_create"](name, profile=profile, **create),
        ):
            return ret
        diff = cmp["changes"]
        if recreate == "never":
            return chain_states.fail(
                ret,
                f"Volume {name} differs ({', '.join(diff)}) and volumes cannot change "
                "in place; set recreate: options-changed to replace it (its data is lost)",
            )
        ret["changes"] = diff
        if __opts__["test"]:
            ret.update(
                result=None, comment=f"Volume {name} would be recreated ({', '.join(diff)} differ)"
            )
            return ret
        removed = __salt__["container.volume_remove"](name, profile=profile)
        __salt__["container.volume_create"](name, profile=profile, **create)
        ret["comment"] = f"Volume {name} recreated ({', '.join(diff)} differed)"
    except chain_states.CAUGHT as err:
        if not removed:
            return chain_states.fail(ret, err, changes={})
        # A removal that happened stays reported: the volume and its data are gone.
        chain_states.fail(
            ret,
            f"Volume {name} could not be created again: {err}",
            done=[f"removed volume {name} (its data is lost)"],
            changes={"volume": {"old": name, "new": None}},
        )
    return ret


@chain_state_args.checked()
def absent(name, force=False, profile=None):
    """
    Ensure a volume does not exist.

    .. code-block:: yaml

        old-cache:
          container_volume.absent
    """
    ret = chain_states.new_ret(name)
    try:
        force = chain_errors.as_bool(force, "force")
        chain_docker_states.remove_present(
            ret,
            "Volume",
            name,
            __opts__["test"],
            __salt__["container.volume_inspect"](name, profile=profile),
            lambda: __salt__["container.volume_remove"](name, force=force, profile=profile),
            {"volume": {"old": name, "new": None}},
        )
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
