"""
Jenkins controller API through named connection profiles: nodes, jobs, builds, plugins, script.

.. versionadded:: 0.1.0

:depends: python-jenkins >= 1.8.2; jenkins-job-builder >= 6 for Jenkins Job Builder YAML.
:configuration: ``jenkins:profiles:NAME:{url, user, token, timeout, verify}`` and
    ``jenkins:default_profile`` (minion config, pillar or master config); a call names a
    profile (``profile=ci``) or passes one inline (``profile={"name": "ci", "timeout": 5}``).

Thin façades over ``saltext.chain.utils.chain_jenkins_*``; every argument is validated before
any request. It succeeds Salt's removed ``jenkins`` module (its function names keep their
signatures; ``job_status`` fixed) and works with every LTS line from 2.479 (docs/jenkins.md).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from saltext.chain.utils import (
        chain_errors,
        chain_jenkins_client,
        chain_jenkins_jjb,
        chain_jenkins_version,
    )
    from saltext.chain.utils import chain_jenkins_builds as _builds
    from saltext.chain.utils import chain_jenkins_jobs as _jobs
    from saltext.chain.utils import chain_jenkins_nodes as _nodes
    from saltext.chain.utils import chain_jenkins_xml as _xml
except ImportError as _exc:  # synced into the minion's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_errors
    import chain_jenkins_builds as _builds
    import chain_jenkins_client
    import chain_jenkins_jjb
    import chain_jenkins_jobs as _jobs
    import chain_jenkins_nodes as _nodes
    import chain_jenkins_version
    import chain_jenkins_xml as _xml

__virtualname__ = "jenkins"

# Kept under their old names: callers catch them, tests build clients directly.
JenkinsError = chain_jenkins_client.JenkinsError
JenkinsNotFound = chain_jenkins_client.JenkinsNotFound
_Client = chain_jenkins_client.Client
BUILTIN_NAMES = chain_jenkins_client.BUILTIN_NAMES


def __virtual__():
    if not chain_jenkins_client.HAS_LIBS:
        return (False, "python-jenkins is not installed (not the unrelated 'jenkins' package)")
    return __virtualname__


def _conf(profile):
    return chain_jenkins_client.connection(profile, __salt__["config.get"])


def _client(profile=None):
    return chain_jenkins_client.get(_conf(profile), __context__)


def _require(name):
    if not name:
        raise SaltInvocationError("Required parameter 'name' is missing")
    return name


def _job(name):
    chain_jenkins_client.job_path(name)
    return name


def _node(name, what=None):
    """A node name (``what``: the built-in node is refused, with why)."""
    if what and name in BUILTIN_NAMES:
        raise SaltInvocationError(f"the built-in node {what}")
    chain_jenkins_client.computer_path(name)
    return name


def _xml_source(config, saltenv, what, root_tag=None):
    cache_file = __salt__["cp.cache_file"]
    return chain_jenkins_jjb.xml_source(config, saltenv, what, cache_file, root_tag)


def _node_root(config_xml, saltenv):
    """A ``<slave>`` config_xml (text or ``salt://`` path) parsed, or None when not given."""
    if config_xml is None:
        return None
    return _xml_source(config_xml, saltenv, "config_xml", "slave")[1]


def _desired_job_xml(name, config=None, jjb=None, saltenv="base"):
    cache_file = __salt__["cp.cache_file"]
    return chain_jenkins_jjb.desired_job_xml(name, config, jjb, saltenv, cache_file)


def version_compare(left, right):
    """Compare two versions as Jenkins orders them (``2.10`` > ``2.9`` > ``2.9-beta``): -1/0/1.

    Salt's command line reads an unquoted ``2.10`` as the number 2.1: quote versions that look
    like numbers (a number that arrives as a float is refused, saying so).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.version_compare '"2.10"' '"2.9"'
    """
    return chain_jenkins_version.compare(left, right)


def job_render(jjb, saltenv="base"):
    """Render Jenkins Job Builder YAML (text or ``salt://`` path) to ``{job_name: xml}``,
    in-process (no ``jenkins-jobs`` CLI, no network).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_render salt://jobs/app.yaml
    """
    return chain_jenkins_jjb.jjb_source(jjb, saltenv, __salt__["cp.cache_file"])


def version(profile=None):
    """Return the Jenkins version (``X-Jenkins``), authenticated from the first request.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.version profile=ci
    """
    return _client(profile).jenkins_version()


def info(profile=None):
    """Return the controller's top-level API object (``/api/json``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.info
    """
    return _client(profile).get_json("api/json")


def whoami(profile=None):
    """Return the authenticated user (``/me/api/json``; fails clearly on a wrong token), or
    for an anonymous profile ``whoAmI/api/json`` (Jenkins refuses ``/me`` to anonymous).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.whoami profile=ci
    """
    return _nodes.whoami(_client(profile))


def script(script, node=None, profile=None):  # pylint: disable=redefined-outer-name
    """Run Groovy in the script console (``scriptText``, Overall/Administer) on the
    controller or agent ``node``; returns its output.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.script 'println(Jenkins.instance.numExecutors)'
    """
    return _script(script, node, profile)


def _script(source, node, profile):
    source = _nodes.groovy(source)
    return _nodes.script(_client(profile), source, node and _node(node))


def node_info(name, profile=None):
    """Return a node's API object, or None when it does not exist (a 401/403 raises).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_info agent1
    """
    return _nodes.info(_client(profile), name)


def node_exists(name, profile=None):
    """Return True when the node exists (auth failures raise instead of answering False).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_exists agent1
    """
    return node_info(name, profile=profile) is not None


def node_config(name, profile=None):
    """Return a node's ``config.xml`` text, or None when the node does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_config agent1
    """
    return _nodes.config(_client(profile), _node(name, "has no config.xml"))


def nodes(profile=None):
    """Return every node: ``{name: {offline, temporarily_offline, executors, labels, ...}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.nodes
    """
    client = _client(profile)
    return _nodes.summary(client.get_json("computer/api/json", {"tree": _nodes.NODES_TREE}))


def node_create(
    name,
    num_executors=1,
    remote_fs="/home/jenkins/agent",
    labels=None,
    mode="NORMAL",
    description="",
    web_socket=False,
    work_dir=None,
    config_xml=None,
    saltenv="base",
    profile=None,
):
    """Create a permanent inbound agent from its fields (``labels`` a list or space-separated,
    ``mode`` NORMAL/EXCLUSIVE) or a ``<slave>`` ``config_xml``: the create form, then the
    config.xml (every release since 2.479 takes both); a refused config.xml removes the node.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_create agent1 num_executors=2 labels='[docker, linux]'
    """
    _node(name, "cannot be created")
    root = _node_root(config_xml, saltenv)
    spec = _xml.node_spec(num_executors, remote_fs, labels, mode, description, web_socket, work_dir)
    return _nodes.create(_client(profile), name, _xml.node_root(name, spec, root))


def node_compare(
    name,
    num_executors=None,
    remote_fs=None,
    labels=None,
    mode=None,
    description=None,
    web_socket=None,
    work_dir=None,
    profile=None,
):
    """Compare declared node fields with the node's config.xml: None when absent, else
    ``{field: {old, new}}`` (labels ``{added, removed}``); ``{}`` means as declared.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_compare agent1 num_executors=2 labels='[docker]'
    """
    spec = _xml.node_spec(num_executors, remote_fs, labels, mode, description, web_socket, work_dir)
    return _nodes.compare(_client(profile), _node(name, "has no config.xml"), spec)


def node_reconfigure(name, config_xml=None, saltenv="base", profile=None, **fields):
    """Reconfigure a node: declared fields (as ``node_create``) written into its config.xml,
    or a whole ``config_xml``; its temporary-offline mark is kept. Returns the changes.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_reconfigure agent1 num_executors=4 labels='[docker, linux]'
    """
    spec = _xml.reconfigure_spec(fields, config_xml)
    new_root = _node_root(config_xml, saltenv)
    _node(name, "cannot be reconfigured")
    return _nodes.reconfigure(_client(profile), name, spec=spec, new_root=new_root)


def node_delete(name, profile=None):
    """Delete a node. Returns True when deleted, False when it did not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_delete agent1
    """
    return _nodes.delete(_client(profile), _node(name, "cannot be deleted"))


def node_enable(name, profile=None):
    """Clear a node's temporary-offline mark (``temporarilyOffline``, never ``offline``: a
    disconnected agent is not "disabled"). True when something changed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_enable agent1
    """
    return _nodes.set_offline(_client(profile), _node(name), False)


def node_disable(name, message="", profile=None):
    """Mark a node temporarily offline with ``message`` (re-worded with
    ``changeOfflineCause`` when it already is). True when something changed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.node_disable agent1 message='maintenance'
    """
    message = _nodes.offline_message(message)
    return _nodes.set_offline(_client(profile), _node(name), True, message)


def agent_secret(name, profile=None):
    """Return a node's inbound agent secret (from ``jenkins-agent.jnlp``; Agent/Connect).
    It is never logged.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.agent_secret agent1
    """
    return _nodes.agent_secret(_client(profile), _node(name, "has no agent secret"))


def wait_online(name, timeout=120, interval=2, profile=None):
    """Wait until a node is online (``offline: false``); raise with its state on timeout.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.wait_online agent1 timeout=60
    """
    clock = _builds.Clock(*_builds.timing(timeout, interval, "interval"))
    return _nodes.wait_online(_client(profile), _node(name), clock)


def job_info(name, profile=None):
    """Return a job's API object, or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_info app-build
    """
    return _jobs.info(_client(profile), _job(name))


def job_exists(name=None, profile=None):
    """Return True when the job exists (auth failures raise, never answer False).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_exists app-build
    """
    return _jobs.info(_client(profile), _job(_require(name)), "name") is not None


def job_config(name, profile=None):
    """Return a job's ``config.xml`` text, or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_config app-build
    """
    return _jobs.config(_client(profile), _job(name))


def jobs(profile=None):
    """Return every job (folders walked): a list of ``{name, fullname, url, color, _class}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.jobs
    """
    return _jobs.list_all(_client(profile))


def job_compare(name, config=None, jjb=None, saltenv="base", ignore=None, profile=None):
    """Compare a desired job config (XML or JJB YAML) with the job's config.xml, canonically
    and declared-only (``ignore``: paths left out on both sides), so the stored file (2.479)
    and XStream's rewrite (2.568) both converge. Returns ``{exists, changed, diff, xml,
    disabled, name}`` (``name``: as Jenkins stores it; item names are case-insensitive).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_compare app-build config=salt://jobs/app-build.xml
    """
    ignore = _jobs.ignore_paths(ignore)
    desired = _desired_job_xml(_job(name), config, jjb, saltenv)
    return _jobs.compare(_client(profile), name, desired, ignore, __opts__.get("cachedir"))


def job_create(name, config_xml=None, jjb=None, saltenv="base", profile=None):
    """Create a job from XML (text or ``salt://`` path) or Jenkins Job Builder YAML.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_create app-build jjb=salt://jobs/app.yaml
    """
    text = _desired_job_xml(_job(name), config_xml, jjb, saltenv)
    return _jobs.create(_client(profile), name, text, __opts__.get("cachedir"))


def job_update(name, config_xml=None, jjb=None, saltenv="base", profile=None):
    """Replace a job's config.xml with XML (text or ``salt://`` path) or JJB YAML.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_update app-build config_xml=salt://jobs/app-build.xml
    """
    text = _desired_job_xml(_job(name), config_xml, jjb, saltenv)
    return _jobs.update(_client(profile), name, text, __opts__.get("cachedir"))


def job_delete(name, profile=None):
    """Delete a job. Returns True when deleted, False when it did not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_delete app-build
    """
    return _jobs.delete(_client(profile), _job(name))


def job_enable(name, profile=None):
    """Enable a job.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_enable app-build
    """
    return _jobs.action(_client(profile), _job(name), "enable")


def job_disable(name, profile=None):
    """Disable a job.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_disable app-build
    """
    return _jobs.action(_client(profile), _job(name), "disable")


def job_enabled(name, profile=None):
    """Return True/False as the job is enabled/disabled, None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_enabled app-build
    """
    return _jobs.enabled(_client(profile), _job(name))


def queue_item(queue_id, profile=None):
    """Return a queue item's API object, or None when it is unknown (left items expire).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.queue_item 42
    """
    qid = chain_errors.as_int(queue_id, "queue_id", minimum=0)
    return _builds.queue_item(_client(profile), qid)


def build_info(name, number="lastBuild", profile=None):
    """Return a build's API object (result, building, duration, ...), or None when absent.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_info app-build 12
    """
    return _builds.info(_client(profile), _job(name), number)


def console(name, number="lastBuild", tail=None, profile=None):
    """Return a build's console log (``consoleText``), or its last ``tail`` lines.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.console app-build 12 tail=40
    """
    lines = _builds.tail_lines(tail)
    _builds.build_ref(number)
    return _builds.console(_client(profile), _job(name), number, lines)


def artifact(name, path, number="lastSuccessfulBuild", dest=None, profile=None):
    """Fetch a build artifact: written to ``dest`` (returns ``{path, size, sha256}``) or
    returned as text.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.artifact app-build dist/app.tar.gz number=12 dest=/tmp/app.tar.gz
    """
    return _builds.artifact(_client(profile), name, path, number, dest)


def build(name, parameters=None, wait=True, timeout=600, poll_interval=1, tail=50, profile=None):
    """Trigger a build through the queue (the queue id from ``Location``; a 303 to an
    identical queued item is followed) and by default wait for its result within ``timeout``.
    Returns ``{number, queue_id, url, result, duration, building, console_tail}``: ``result``
    None when it did not finish, ``number`` None (with ``why``) when it never left the queue.
    ``wait=False`` returns as soon as the item is queued (one read of the queue item; no wait
    for an executor).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build app-build parameters='{REVISION: abc123}' timeout=300
    """
    params = _builds.build_params(parameters)
    wait = chain_errors.as_bool(wait, "wait")
    clock, lines = _builds.waiting(timeout, poll_interval, tail)
    return _builds.run(_client(profile), _job(name), params, wait, clock, lines)


def build_wait(name, number, timeout=600, poll_interval=1, tail=50, profile=None):
    """Wait for an already started build to finish; returns what ``jenkins.build`` returns
    (``queue_id`` None; ``result`` None when it did not finish within ``timeout``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_wait app-build 12 timeout=300
    """
    ref = _builds.build_ref(number)
    if not ref.isdigit():
        raise SaltInvocationError(f"number: build_wait needs a build number, got {number!r}")
    clock, lines = _builds.waiting(timeout, poll_interval, tail)
    return _builds.wait_existing(_client(profile), _job(name), ref, clock, lines)


def last_build_with(name, parameters=None, limit=50, profile=None):
    """Return the newest of the last ``limit`` builds (finished or running: ``result`` None)
    whose parameters include ``parameters``, as ``{number, result, url, building}``, or None.
    Undefined parameters are refused (Jenkins drops them); password ones are not compared.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.last_build_with app-build parameters='{REVISION: abc123}'
    """
    params = _builds.build_params(parameters) or []
    limit = chain_errors.as_int(limit, "limit", minimum=1)
    return _builds.last_with(_client(profile), _job(name), params, limit)


def plugins(profile=None):
    """Return the installed plugins: ``{shortName: {version, active, enabled, long_name}}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.plugins
    """
    return _jobs.plugins(_client(profile))


def plugin_installed(name, profile=None):
    """Return True when a plugin (short or long name) is installed.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.plugin_installed git
    """
    if not isinstance(_require(name), str):
        raise SaltInvocationError(f"name: expected a plugin name, got {name!r}")
    return _jobs.plugin_installed(_client(profile), name)


def get_version(profile=None):
    """Return the Jenkins version (old ``jenkins.get_version``; authenticated).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_version
    """
    return version(profile=profile)


def get_jobs(profile=None):
    """Return the jobs (old ``jenkins.get_jobs``); an empty dict when there are none.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_jobs
    """
    return jobs(profile=profile) or {}


def get_job_info(name=None, profile=None):
    """Return a job's information (old ``jenkins.get_job_info``); raises when it is absent.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_job_info jobname
    """
    data = job_info(_require(name), profile=profile)
    if data is None:
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return data


def build_job(name=None, parameters=None, profile=None):
    """Queue a build (old ``jenkins.build_job``); returns True. ``jenkins.build`` waits.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.build_job jobname
    """
    _job(_require(name))
    params = _builds.build_params(parameters)
    try:
        return bool(_builds.trigger(_client(profile), name, params))
    except JenkinsNotFound as err:
        raise CommandExecutionError(f"Job '{name}' does not exist") from err


def _old_config(name, config_xml, saltenv):
    _job(_require(name))
    if not config_xml:
        raise SaltInvocationError("config_xml is required (a salt:// path or XML text)")
    return _xml_source(config_xml, saltenv, "config_xml")[0]


def create_job(name=None, config_xml=None, saltenv="base", profile=None):
    """Create a job (old ``jenkins.create_job``) from ``config_xml``, a ``salt://`` path or
    XML text (no fallback to an empty config); returns the XML posted.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.create_job jobname config_xml=salt://jenkins/config.xml
    """
    text = _old_config(name, config_xml, saltenv)
    if job_exists(name, profile=profile):
        raise CommandExecutionError(f"Job '{name}' already exists")
    job_create(name, config_xml=text, profile=profile)
    return text


def update_job(name=None, config_xml=None, saltenv="base", profile=None):
    """Replace a job's config (old ``jenkins.update_job``); returns the XML posted.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.update_job jobname config_xml=salt://jenkins/config.xml
    """
    text = _old_config(name, config_xml, saltenv)
    job_update(name, config_xml=text, profile=profile)
    return text


def delete_job(name=None, profile=None):
    """Delete a job (old ``jenkins.delete_job``); raises when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.delete_job jobname
    """
    if not job_delete(_require(name), profile=profile):
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return True


def enable_job(name=None, profile=None):
    """Enable a job (old ``jenkins.enable_job``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.enable_job jobname
    """
    return job_enable(_require(name), profile=profile)


def disable_job(name=None, profile=None):
    """Disable a job (old ``jenkins.disable_job``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.disable_job jobname
    """
    return job_disable(_require(name), profile=profile)


def job_status(name=None, profile=None):
    """Return ``{buildable, color, in_queue, last_build: {number, result, building, url}}``
    (old ``jenkins.job_status``, fixed: it used to read a job called ``empty``).

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.job_status jobname
    """
    return _jobs.status(_client(profile), _job(_require(name)))


def get_job_config(name=None, profile=None):
    """Return a job's config.xml (old ``jenkins.get_job_config``); raises when it is absent.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.get_job_config jobname
    """
    text = job_config(_require(name), profile=profile)
    if text is None:
        raise CommandExecutionError(f"Job '{name}' does not exist")
    return text


def run(script, profile=None):  # pylint: disable=redefined-outer-name
    """Run a Groovy script on the controller (old ``jenkins.run``); returns its output.

    CLI Example:

    .. code-block:: bash

        salt '*' jenkins.run 'Jenkins.instance.doSafeRestart()'
    """
    return _script(script, None, profile)
