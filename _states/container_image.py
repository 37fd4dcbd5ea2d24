"""
Images as Salt states: build (content-addressed), pull, tag, push, remove.

.. versionadded:: 0.1.0

A build records the digest of its inputs (Dockerfile, context files honouring
``.dockerignore``, build args, target) in the ``org.saltext-chain.inputs`` label and runs again
only when that digest changes. ``changes`` carry the old and new image ids, and containers
declared with ``container.running`` on that image are recreated by their own state because
their image id no longer matches (a ``watch`` on this state lets ``test=True`` preview
that). The replaced image stays on the engine untagged (dangling) until nothing uses it;
``container.prune images=True`` (with ``labels`` to limit it to images built with those
labels) removes it.

.. code-block:: yaml

    app-image:
      container_image.present:
        - name: 127.0.0.1:5000/app/web:1.2
        - build: salt://app/image
        - buildargs:
            VERSION: "1.2"
        - base_image: saltext-chain/debian:bookworm
        - push: true
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_docker_build,
        chain_docker_states,
        chain_errors,
        chain_registry,
        chain_state_args,
        chain_states,
    )
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_build
    import chain_docker_states
    import chain_errors
    import chain_registry
    import chain_state_args
    import chain_states

__virtualname__ = "container_image"

PULL_POLICIES = ("missing", "always", "never")
INPUTS = chain_docker_build.INPUTS_LABEL


def __virtual__():
    return chain_states.needs(__salt__, __virtualname__, "container.image_inspect")


def _short(image_id):
    return image_id.split(":")[-1][:12] if image_id else image_id


def _check(
    name, build, dockerfile, buildargs, target, labels, base_image, source, pull, push, saltenv
):
    """Every argument checked before the engine is asked anything."""
    chain_registry.check_image_name(name)
    if pull not in PULL_POLICIES:
        raise SaltInvocationError(f"pull must be one of {', '.join(PULL_POLICIES)}")
    if build and source:
        raise SaltInvocationError("build and source are mutually exclusive")
    if source is not None:
        chain_registry.check_image_name(source, "source")
    # Build options are checked even when unused (without build they are ignored, as ever).
    chain_docker_build.check_inputs(
        "." if build is None else build, dockerfile, buildargs, target, labels, base_image, saltenv
    )
    return chain_errors.as_bool(push, "push")


@chain_state_args.checked()
def present(
    name,
    build=None,
    dockerfile="Dockerfile",
    buildargs=None,
    target=None,
    labels=None,
    base_image=None,
    source=None,
    pull="missing",
    push=False,
    saltenv=None,
    profile=None,
):
    """
    Ensure an image exists under ``name`` — built, tagged from ``source``, or pulled.

    build
        Build context: a ``salt://`` directory or a local path. Rebuilt only when the digest
        of its inputs changes.
    dockerfile, buildargs, target, labels
        Build options. ``base_image`` sets the ``BASE_IMAGE`` build arg.
    source
        Another local image to tag as ``name`` (e.g. promote a build to a registry name).
    pull
        Without ``build``/``source``: ``missing`` (default) pulls when absent, ``always``
        pulls every run and reports a change when the id moved, ``never`` only checks.
    push
        Push ``name`` to its registry unless the registry already serves the local image.

    .. code-block:: yaml

        base:
          container_image.present:
            - name: 127.0.0.1:5000/base/python:3.11
            - pull: always

        release:
          container_image.present:
            - name: 127.0.0.1:5000/app/web:1.2
            - source: app/web:build
            - push: true
    """
    ret = chain_states.new_ret(name)
    test = __opts__["test"]
    comments = []
    try:
        push = _check(
            name,
            build,
            dockerfile,
            buildargs,
            target,
            labels,
            base_image,
            source,
            pull,
            push,
            saltenv,
        )
        current = __salt__["container.image_inspect"](name, profile=profile)
        if build:
            options = {
                "dockerfile": dockerfile,
                "buildargs": buildargs,
                "target": target,
                "labels": labels,
                "base_image": base_image,
                "saltenv": saltenv or globals().get("__env__") or "base",
                "profile": profile,
            }
            comments.append(_build(ret, name, build, options, current, test))
        elif source:
            comments.append(_tag(ret, name, source, current, test, profile))
        else:
            comments.append(_pull(ret, name, pull, current, test, profile))
        if push:
            comments.append(_push(name, ret, test, profile))
    except chain_states.CAUGHT as err:
        if test:
            return chain_states.fail(ret, err, changes={})
        return chain_states.fail(ret, err, done=comments)
    if test and ret["changes"]:
        ret["result"] = None
    ret["comment"] = "; ".join(c for c in comments if c)
    return ret


def _short_old(current):
    return _short(current["Id"]) if current else None


def _build(ret, name, build, options, current, test):
    """Build when the digest of the inputs differs from the image's label."""
    if test and chain_docker_build.pending_context(build):
        return _build_pending(ret, name, build, current)
    digest = __salt__["container.build_inputs_digest"](build, **options)
    have = ((current or {}).get("Config") or {}).get("Labels") or {}
    if have.get(INPUTS) == digest:
        return f"Image {name} is up to date (inputs {digest[:12]})"
    if test:
        ret["changes"]["image_id"] = {"old": _short_old(current), "new": "(to be built)"}
        ret["changes"]["inputs"] = {"old": have.get(INPUTS), "new": digest}
        why = "inputs changed" if current else "absent"
        return f"Image {name} would be built ({why})"
    built = __salt__["container.image_build"](name, build, **options)
    ret["changes"]["image_id"] = {"old": _short_old(current), "new": _short(built["id"])}
    ret["changes"]["inputs"] = {"old": have.get(INPUTS), "new": digest}
    return f"Image {name} built ({_short(built['id'])})"


def _build_pending(ret, name, build, current):
    """Under test, a local context an earlier state of this run would make (it is not there
    yet): report the build instead of reading the context."""
    have = ((current or {}).get("Config") or {}).get("Labels") or {}
    new_id = "(to be built)" if current is None else "(rebuilt if its inputs changed)"
    ret["changes"]["image_id"] = {"old": _short_old(current), "new": new_id}
    ret["changes"]["inputs"] = {"old": have.get(INPUTS), "new": "(context not there yet)"}
    return f"Image {name} would be built from {build} (not there yet: made earlier in this run)"


def _tag(ret, name, source, current, test, profile):
    """Tag the local image ``source`` as ``name``."""
    src = __salt__["container.image_inspect"](source, profile=profile)
    if src is None:
        raise CommandExecutionError(f"source image {source} is not present on the engine")
    if current and current["Id"] == src["Id"]:
        return f"Image {name} already is {source}"
    ret["changes"]["image_id"] = {"old": _short_old(current), "new": _short(src["Id"])}
    if test:
        return f"Image {source} would be tagged {name}"
    __salt__["container.image_tag"](source, name, profile=profile)
    return f"Image {source} tagged {name}"


def _pull(ret, name, pull, current, test, profile):
    """Pull per the ``pull`` policy (neither ``build`` nor ``source`` given)."""
    if current is not None and pull != "always":
        return f"Image {name} is present"
    if pull == "never":
        raise CommandExecutionError(f"image {name} is not present on the engine (pull=never)")
    if test:
        if current is None:
            ret["changes"]["image_id"] = {"old": None, "new": "(to be pulled)"}
            return f"Image {name} would be pulled"
        ret["changes"]["image_id"] = {
            "old": _short_old(current),
            "new": "(newest in the registry)",
        }
        return f"Image {name} would be pulled to check for a newer one"
    pulled = __salt__["container.image_pull"](name, profile=profile)
    if not pulled["changed"]:
        return f"Image {name} is the newest the registry has"
    ret["changes"]["image_id"] = {"old": _short_old(current), "new": _short(pulled["id"])}
    return f"Image {name} pulled ({_short(pulled['id'])})"


def _push(name, ret, test, profile):
    local = __salt__["container.image_inspect"](name, profile=profile)
    if local is None:
        if test and ret["changes"]:
            ret["changes"]["pushed"] = {"old": None, "new": name}
            return f"{name} would be pushed"
        raise CommandExecutionError(f"cannot push {name}: the engine has no such image")
    remote = __salt__["container.registry_digest"](name)
    repo = chain_registry.split_repo_tag(name)[0]
    if remote and f"{repo}@{remote}" in (local.get("RepoDigests") or []) and not ret["changes"]:
        return f"{name} is in the registry ({remote[:19]})"
    ret["changes"]["pushed"] = {"old": remote, "new": name}
    if test:
        return f"{name} would be pushed"
    pushed = __salt__["container.image_push"](name, profile=profile)
    ret["changes"]["pushed"]["new"] = pushed.get("digest") or name
    return f"{name} pushed"


@chain_state_args.checked()
def absent(name, force=False, profile=None):
    """
    Ensure an image (tag) is not on the engine.

    .. code-block:: yaml

        old-release:
          container_image.absent:
            - name: app/web:1.0
    """
    ret = chain_states.new_ret(name)
    try:
        chain_registry.check_image_name(name)
        force = chain_errors.as_bool(force, "force")
        current = __salt__["container.image_inspect"](name, profile=profile)
        chain_docker_states.remove_present(
            ret,
            "Image",
            name,
            __opts__["test"],
            current,
            lambda: __salt__["container.image_remove"](name, force=force, profile=profile),
            {"image_id": {"old": _short((current or {}).get("Id")), "new": None}},
        )
    except chain_states.CAUGHT as err:
        chain_states.fail(ret, err, changes={})
    return ret
