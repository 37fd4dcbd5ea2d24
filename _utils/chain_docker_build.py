"""
Image builds: the build inputs checked before any I/O, the build context, the base images a
Dockerfile names, and the content digest of everything a build reads.

A build is content-addressed: :func:`inputs_digest` hashes the Dockerfile, the context files
(honouring ``.dockerignore``: names, modes, contents, link targets), the build args, the target,
the labels and the ids of the base images its ``FROM`` lines name. The ``container`` module
records it in the ``org.saltext-chain.inputs`` label and rebuilds only when it changes.

A ``salt://`` context is cached by the caller (``cp.cache_dir``); ``cp.cache_dir`` never deletes
files that left the fileserver, so the digest only counts the files the fileserver still serves
(:func:`served_files`), and only a real build prunes the others (:func:`prune_context`): a
test run reads and caches, it deletes nothing.

Nothing here touches Salt's dunders: callers pass the cache dir and the fileserver listing.
"""

import hashlib
import json
import os
import re

try:
    from saltext.chain.utils import chain_docker_types, chain_errors
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_docker_types
    import chain_errors

BadInput = chain_errors.BadInput

#: The label a build records its inputs digest in.
INPUTS_LABEL = "org.saltext-chain.inputs"

FROM = re.compile(
    r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE
)
ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.IGNORECASE | re.MULTILINE)
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def key_values(value, field, sep="="):
    """A mapping, or a list of ``KEY=VALUE`` strings / one-key mappings -> ``{str: str}``
    (:func:`chain_docker_types.str_map`; ``None`` stays ``None``)."""
    return None if value is None else chain_docker_types.str_map(value, field, sep)


def _optional_text(value, field):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or re.search(r"\s", value):
        raise BadInput(f"{field}: expected a name without blanks, got {value!r}")
    return value


def check_inputs(
    path,
    dockerfile="Dockerfile",
    buildargs=None,
    target=None,
    labels=None,
    base_image=None,
    saltenv=None,
):
    """Validate every build argument before any I/O; returns them normalised:
    ``{path, dockerfile, buildargs (with BASE_IMAGE), target, labels}``."""
    if saltenv is not None and (not isinstance(saltenv, str) or not saltenv):
        raise BadInput(f"saltenv: expected an environment name, got {saltenv!r}")
    if not path or not isinstance(path, str):
        raise BadInput("path: a build context directory (salt:// or local) is required")
    dockerfile = dockerfile or "Dockerfile"
    if (
        not isinstance(dockerfile, str)
        or os.path.isabs(dockerfile)
        or ".." in dockerfile.split("/")
    ):
        raise BadInput(f"dockerfile: expected a path inside the context, got {dockerfile!r}")
    args = dict(key_values(buildargs, "buildargs") or {})
    if base_image is not None:
        args["BASE_IMAGE"] = _optional_text(base_image, "base_image")
    return {
        "path": path,
        "dockerfile": dockerfile,
        "buildargs": args,
        "target": _optional_text(target, "target"),
        "labels": key_values(labels, "labels") or {},
    }


# ---------------------------------------------------------------------------------------------
# The context
# ---------------------------------------------------------------------------------------------


def salt_prefix(path):
    """The fileserver path of a ``salt://`` context (``None`` for a local one)."""
    if str(path).startswith("salt://"):
        return path[len("salt://") :].strip("/")
    return None


def pending_context(path, exists=os.path.lexists):
    """True when ``path`` is a local build context that is not there at all.

    Under ``test=True`` such a context is taken as one an earlier state of the same run would
    make (a ``file.recurse`` under test creates nothing): the image state then reports the build
    it would do instead of failing on the missing directory. A path that exists but is no
    directory, and every ``salt://`` context, are read as ever (and fail as ever).
    ``exists``: the check to use (``os.path.lexists``).
    """
    return salt_prefix(path) is None and not exists(path)


def cached_context(cachedir, saltenv, prefix):
    """Where ``cp.cache_dir`` puts a ``salt://`` directory in the minion cache."""
    return os.path.join(cachedir, "files", saltenv, prefix)


def served_files(listing, prefix):
    """Paths relative to the context of a ``cp.list_master`` listing under ``prefix``."""
    return {os.path.relpath(f, prefix) for f in listing}


def prune_context(local, served):
    """Delete the cached files (and then empty directories) the fileserver no longer serves."""
    for root, dirs, files in os.walk(local, topdown=False):
        for fname in files:
            full = os.path.join(root, fname)
            if os.path.relpath(full, local) not in served:
                os.remove(full)
        for dname in dirs:
            full = os.path.join(root, dname)
            if not os.listdir(full):
                os.rmdir(full)


def not_served(path, masterless=False, list_cache_time=20):
    """Why a ``salt://`` context may be missing, and how to refresh the listing.

    Salt's fileserver keeps the file list of each backend and saltenv
    (``<cachedir>/file_lists/<backend>/<saltenv>.p``, ``salt.fileserver.check_file_list_cache``)
    for ``fileserver_list_cache_time`` seconds (20 by default), on the master or, with
    ``file_client: local``, on the minion itself: a directory created within that time is not
    listed yet."""
    if masterless:
        refresh = (
            "delete the minion's <cachedir>/file_lists/ (or set fileserver_list_cache_time: 0 "
            "in the minion config)"
        )
    else:
        refresh = "run salt-run fileserver.clear_file_list_cache on the master"
    return (
        f"image build: {path} is not on the Salt fileserver; if it was created less than "
        f"{list_cache_time:g} s ago, the fileserver's file list (kept for "
        f"fileserver_list_cache_time = {list_cache_time:g} s) does not show it yet: wait and "
        f"apply again, or {refresh}"
    )


def context_dir(path, saltenv, cachedir, cache_dir, list_master, prune, list_cache=None):
    """``(local dir, served files or None)`` of a build context.

    A ``salt://`` context is cached with ``cache_dir`` (``cp.cache_dir``) as ``file.managed``
    caches its source; ``list_master`` (``cp.list_master``) tells what the fileserver serves.
    Only with ``prune`` (a real build) are cached files it no longer serves deleted.
    ``list_cache``: ``{"masterless": bool, "list_cache_time": seconds}`` for the message of a
    context the fileserver does not list (:func:`not_served`).
    """
    prefix = salt_prefix(path)
    if prefix is None:
        if not os.path.isdir(path):
            raise BadInput(f"image build: context {path} is not a directory")
        return path, None
    if not cache_dir(path, saltenv=saltenv, include_empty=True):
        raise BadInput(not_served(path, **(list_cache or {})))
    local = cached_context(cachedir, saltenv, prefix)
    if not os.path.isdir(local):
        raise BadInput(f"image build: {path} did not cache as a directory")
    served = served_files(list_master(saltenv=saltenv, prefix=prefix + "/"), prefix)
    if prune:
        prune_context(local, served)
    return local, served


def follow_build(name, stream):
    """Read a build's output stream: ``(image id, log)``; a failed build raises
    :class:`~chain_errors.BackendError` with the builder's last lines."""
    lines, errors, image_id = [], [], None
    for chunk in stream:
        if "stream" in chunk:
            lines.append(chunk["stream"].rstrip("\n"))
            match = re.search(r"Successfully built ([0-9a-f]+)", chunk["stream"])
            image_id = match.group(1) if match else image_id
        if "error" in chunk:
            errors.append(chunk["error"].strip())
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    lines = [ln for ln in lines if ln]
    if errors or not image_id:
        tail = "\n".join(lines[-15:] + errors)
        raise chain_errors.BackendError(f"build {name} failed:\n{tail}")
    return image_id, "\n".join(lines)[-4000:]


def ignore_patterns(context):
    """The ``.dockerignore`` patterns of a context (comments and blank lines dropped)."""
    ignore_file = os.path.join(context, ".dockerignore")
    if not os.path.isfile(ignore_file):
        return []
    with open(ignore_file, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.startswith("#")]


def context_files(context, dockerfile="Dockerfile", served=None):
    """The sorted relative paths a build sends, after ``.dockerignore``; with ``served`` only
    those the fileserver serves."""
    from docker.utils.build import exclude_paths  # pylint: disable=import-outside-toplevel

    patterns = ignore_patterns(context) if served is None or ".dockerignore" in served else []
    files = exclude_paths(context, patterns, dockerfile=dockerfile)
    if served is not None:
        files = [rel for rel in files if rel in served or os.path.isdir(os.path.join(context, rel))]
    return sorted(files)


def read_dockerfile(context, dockerfile, shown_path=None, served=None):
    """The Dockerfile's bytes; :class:`BadInput` when the context has none (or, with
    ``served``, when the fileserver no longer serves it)."""
    full = os.path.join(context, dockerfile)
    if not os.path.isfile(full) or served is not None and dockerfile not in served:
        raise BadInput(f"image build: no {dockerfile} in {shown_path or context}")
    with open(full, "rb") as fh:
        return fh.read()


def base_images(dockerfile_text, buildargs):
    """The images a Dockerfile's ``FROM`` lines name, with ARG defaults and build args applied
    (``scratch`` and earlier stages left out)."""
    head = dockerfile_text.split("\n")
    first_from = next((i for i, line in enumerate(head) if FROM.match(line)), len(head))
    defaults = {
        m.group(1): (m.group(2) or "").strip("\"'")
        for m in ARG.finditer("\n".join(head[:first_from]))
    }
    values = {**defaults, **buildargs}
    stages, images = set(), []
    for match in FROM.finditer(dockerfile_text):
        ref = _VAR.sub(lambda m: values.get(m.group(1), ""), match.group(1))
        if ref.lower() != "scratch" and ref not in stages:
            images.append(ref)
        if match.group(2):
            stages.add(match.group(2))
    return images


def inputs_digest(context, inputs, bases, served=None):
    """SHA-256 of a build's inputs.

    inputs
        :func:`check_inputs`' result (dockerfile, buildargs, target, labels).
    bases
        ``{base image: id or None}`` as the engine has them now (:func:`base_images` names them).
    served
        For a ``salt://`` context, :func:`served_files`.
    """
    digest = hashlib.sha256()
    digest.update(b"saltext-chain build inputs v1\0")
    for rel in context_files(context, inputs["dockerfile"], served):
        full = os.path.join(context, rel)
        if os.path.isdir(full) and not os.path.islink(full):
            continue
        st = os.lstat(full)
        digest.update(rel.encode() + b"\0" + oct(st.st_mode & 0o777).encode() + b"\0")
        if os.path.islink(full):
            digest.update(os.readlink(full).encode())
        else:
            with open(full, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
        digest.update(b"\0")
    digest.update(b"dockerfile\0" + read_dockerfile(context, inputs["dockerfile"], None, served))
    digest.update(
        json.dumps(
            {
                "buildargs": inputs["buildargs"],
                "target": inputs["target"],
                "labels": inputs["labels"],
                "bases": bases,
            },
            sort_keys=True,
        ).encode()
    )
    return digest.hexdigest()
