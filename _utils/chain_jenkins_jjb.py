"""
Job definitions: Jenkins Job Builder rendered in-process (YAML, templates and projects
expanded, to job config.xml; no ``jenkins-jobs`` CLI, no network, plugin information never
queried), and the desired config.xml of a job from XML text, JJB YAML or a ``salt://`` path
(read through the ``cp.cache_file`` the caller passes).

Nothing here uses Salt's dunders (shared code, ``saltext.chain.utils``).
"""

import io
import os
import pathlib
import sys
import tempfile

import yaml
import yaml.composer
import yaml.loader

try:
    from saltext.chain.utils import chain_errors, chain_jenkins_xml
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_xml

BadInput = chain_errors.BadInput


def import_jjb():
    """Import jenkins-job-builder with PyYAML's pure-Python ``Loader``.

    Salt (``salt.utils.yamlloader_old``) rebinds ``yaml.Loader`` to ``yaml.CLoader``; JJB's
    ``LocLoader`` subclasses ``yaml.Loader`` at import time and needs the pure-Python composer
    (anchors, node positions). Import it with the real class in place, and re-import it when an
    earlier import got the C loader.
    """
    loc = sys.modules.get("jenkins_jobs.loc_loader")
    if loc is not None and not issubclass(loc.LocLoader, yaml.composer.Composer):
        for mod in [m for m in sys.modules if m == "jenkins_jobs" or m.startswith("jenkins_jobs.")]:
            del sys.modules[mod]
    saved = yaml.Loader
    yaml.Loader = yaml.loader.Loader
    try:
        # pylint: disable=import-outside-toplevel
        import jenkins_jobs.config
        import jenkins_jobs.errors
        import jenkins_jobs.loader
        import jenkins_jobs.registry
        import jenkins_jobs.roots
        import jenkins_jobs.xml_config
    except ImportError as err:
        raise chain_errors.BackendError(f"jenkins-job-builder is not installed: {err}") from err
    finally:
        yaml.Loader = saved
    return jenkins_jobs


def _config(jjb):
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as fh:
        fh.write("[job_builder]\nignore_cache=True\n[jenkins]\nquery_plugins_info=False\n")
        ini = fh.name
    try:
        cfg = jjb.config.JJBConfig(config_filename=ini)
        cfg.builder["plugins_info"] = []
        cfg.validate()
    finally:
        os.unlink(ini)
    return cfg


def render(text, source_path=None):
    """Render JJB YAML to ``{job_name: config_xml}``; :class:`BadInput` on any YAML/JJB error.

    ``source_path`` (a local copy of the YAML) lets ``!include`` find files beside it.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadInput("jjb: the Jenkins Job Builder YAML is empty")
    jjb = import_jjb()
    try:
        cfg = _config(jjb)
        roots = jjb.roots.Roots(cfg)
        source = pathlib.Path(source_path) if source_path else io.StringIO(text)
        jjb.loader.load_files(cfg, roots, [source])
        registry = jjb.registry.ModuleRegistry(cfg, [])
        registry.set_macros(roots.macros)
        jobs = roots.generate_jobs()
        registry.amend_job_dicts(jobs)
        xml_jobs = jjb.xml_config.XmlJobGenerator(registry).generateXML(jobs)
    except (yaml.YAMLError, jjb.errors.JenkinsJobsException) as err:
        raise BadInput(f"jjb: invalid Jenkins Job Builder YAML: {err}") from err
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BadInput(
            f"jjb: cannot render the Jenkins Job Builder YAML: {type(err).__name__}: {err}"
        ) from err
    out = {}
    for job in xml_jobs:
        data = job.output()
        out[job.name] = data.decode("utf-8") if isinstance(data, bytes) else data
    if not out:
        raise BadInput("jjb: the YAML defines no job")
    return out


# ---------------------------------------------------------------------------------------------
# Where a job definition comes from: literal text or a fileserver path
# ---------------------------------------------------------------------------------------------


def read_source(source, saltenv, what, cache_file):
    """``(text, local path)`` of a fileserver path; ``cache_file`` is ``cp.cache_file``."""
    path = cache_file(source, saltenv)
    if not path:
        raise BadInput(f"{what}: cannot fetch {source} from the fileserver (saltenv {saltenv})")
    with open(path, encoding="utf-8") as fh:
        return fh.read(), path


def xml_source(config, saltenv, what, cache_file, root_tag=None):
    """XML text (starts with ``<``) or a fileserver path -> ``(text, parsed root)``; with
    ``root_tag``, the document must be that element (``slave`` for a node)."""
    if not isinstance(config, str) or not config.strip():
        raise BadInput(f"{what}: expected XML text or a salt:// path")
    text = config
    if not config.lstrip().startswith("<"):
        text, _ = read_source(config.strip(), saltenv, what, cache_file)
    root = chain_jenkins_xml.parse(text, what)
    if root_tag and root.tag != root_tag:
        raise BadInput(f"{what}: expected a <{root_tag}> document, got <{root.tag}>")
    return text, root


def jjb_source(jjb, saltenv, cache_file):
    """``{job_name: config_xml}`` from JJB YAML text or a ``salt://`` path to it."""
    if not isinstance(jjb, str) or not jjb.strip():
        raise BadInput("jjb: expected YAML text or a salt:// path")
    if jjb.strip().startswith("salt://") and "\n" not in jjb.strip():
        text, path = read_source(jjb.strip(), saltenv, "jjb", cache_file)
        return render(text, source_path=path)
    return render(jjb)


def desired_job_xml(name, config, jjb, saltenv, cache_file):
    """The desired config.xml text of job ``name`` from exactly one of ``config``/``jjb``."""
    if (config is None) == (jjb is None):
        raise BadInput("give exactly one of config (XML) or jjb (Jenkins Job Builder YAML)")
    if config is not None:
        return xml_source(config, saltenv, "config", cache_file)[0]
    rendered = jjb_source(jjb, saltenv, cache_file)
    if name not in rendered:
        raise BadInput(f"jjb: the YAML renders {', '.join(sorted(rendered))}, not job '{name}'")
    return rendered[name]
