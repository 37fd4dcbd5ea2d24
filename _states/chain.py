"""
Master-side states of the chain, for ``salt-run state.orchestrate``: ``chain.rolled_out`` rolls
an app's image out through the ``chain`` runner (``chain.rollout``) and reports it the way every
state does; ``chain.stage`` marks where a run of the orchestrate is, as events on the master bus.

.. versionadded:: 0.2.0

.. versionchanged:: 0.3.0
    ``chain.stage``.

Salt's own ``salt.runner`` state puts whatever a runner returns into ``changes``
(``salt/states/saltmod.py``, ``runner``, Salt 3008.4), so an orchestrate counts every rollout as
a change, a no-op too, and logs the whole return as a dict when it fails. This state takes the
rollout's own ``changes`` (``{}`` when every server already ran the image, else
``{server: {old, new}}``) and its one readable ``comment`` (on a failure: which server, why,
what was rolled back, which server runs which image now). Under ``test=True`` the rollout only
reads (each server's deploy state in test mode and its status) and says what it would change.

It runs where orchestrations run, on the master; it does not load on a minion.

.. code-block:: yaml

    chain-rollout:
      chain.rolled_out:
        - app: app
        - image: 127.0.0.1:5050/chain/app:3f2a1c9
        - ref: 3f2a1c9d0e...
        - targets: [web1, web2]
        - require:
          - salt: chain-image
"""

import logging
import time

import salt.utils.event
from salt.exceptions import SaltInvocationError

try:
    from saltext.chain.utils import chain_app_conf, chain_stage, chain_state_args, chain_states
except ImportError as _exc:  # synced into the master's extmods/utils (file_roots deployment)
    if not str(_exc.name).startswith("saltext"):
        raise  # a real import error inside the util, not a missing package
    import chain_app_conf
    import chain_stage
    import chain_state_args
    import chain_states

log = logging.getLogger(__name__)

__virtualname__ = "chain"

#: Keyword arguments ``chain.rollout`` takes besides ``app``, ``image`` and ``ref``: the app's
#: settings a call may override (``chain_app_conf.KEYS``) and ``pin``.
ROLLOUT_OPTIONS = (*chain_app_conf.KEYS, "pin")


def __virtual__():
    if __opts__.get("__role") != "master":
        return (False, "chain states run on the master (salt-run state.orchestrate)")
    return chain_states.needs(__salt__, __virtualname__, "saltutil.runner")


def _check(app, image, options):
    if not isinstance(app, str) or not app.strip():
        raise SaltInvocationError("app: expected the app's name (chain:apps:<app>)")
    if not isinstance(image, str) or not image.strip():
        raise SaltInvocationError("image: expected an image reference to roll out")
    unknown = sorted(set(options) - set(ROLLOUT_OPTIONS))
    if unknown:
        raise SaltInvocationError(
            f"unknown argument(s) {', '.join(unknown)}; chain.rolled_out takes app, image, "
            f"ref, {', '.join(ROLLOUT_OPTIONS)}"
        )


def _runner_error(out):
    """The runner's error in one line: Salt's runner client returns an exception raised in the
    runner (a bad option, say) as its formatted traceback; its last line is the message."""
    lines = [line.strip() for line in str(out).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no answer from the chain runner")[:500]


@chain_state_args.checked(accepts=ROLLOUT_OPTIONS)
def rolled_out(name, app, image, ref=None, **kwargs):
    """
    Roll ``image`` out to the servers of ``app`` with the ``chain.rollout`` runner: server by
    server, each behind its health gate, the servers already updated rolled back on too many
    failures (see ``chain.rollout`` for every option). Succeeds with no changes when every
    server already runs ``image``.

    .. code-block:: yaml

        chain-rollout:
          chain.rolled_out:
            - app: app
            - image: 127.0.0.1:5050/chain/app:3f2a1c9
            - targets: [web1, web2]

    name
        The state's ID (only a label).
    app
        The app (``chain:apps:<app>`` in the master config holds its defaults).
    image
        The image to deploy; a registry tag is pinned to the digest the registry serves.
    ref
        The commit it was built from, recorded in ``chain.history``.
    targets, sls, service, frontend, backend, network, max_failures, timeout, pillar, pin
        Passed to ``chain.rollout`` (as are ``jenkins_profile`` and ``jenkins_job``);
        ``{minion}`` in names stands for each server's id.
    """
    ret = chain_states.new_ret(name)
    options = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    test = bool(__opts__["test"])
    try:
        _check(app, image, options)
        full = __salt__["saltutil.runner"](
            "chain.rollout", app=app, image=image, ref=ref, test=test, full_return=True, **options
        )
    except chain_states.CAUGHT as err:
        return chain_states.fail(ret, f"rollout of {app}: {err}", changes={})
    out = full.get("return") if isinstance(full, dict) else full
    if not isinstance(out, dict) or "result" not in out:
        return chain_states.fail(ret, f"rollout of {app}: {_runner_error(out)}", changes={})
    ret["changes"] = out.get("changes") or {}
    ret["comment"] = out.get("comment") or f"rollout of {app}: done"
    if out["result"] is False:
        return chain_states.fail(ret, ret["comment"], changes=ret["changes"])
    ret["result"] = None if test and ret["changes"] else True
    return ret


def _fire(data, tag):
    """Fire one event on the master bus: whether it was sent (a progress event never stops a
    run: a bus that does not take it is logged)."""
    with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
        sent = bus.fire_event(data, tag)
    if not sent:
        log.warning("chain.stage: the master bus did not take %s", tag)
    return bool(sent)


@chain_state_args.checked()
def stage(name, run_id, event="start", details=None):
    """
    Mark where a run of the chain's orchestrate is: fire ``chain/run/<run_id>/stage/<name>/start``
    (``{at}``) or ``.../done`` (``{at, duration, result, comment}``) on the master bus, as the
    stage starts or ends. A marker only reports: it always succeeds and changes nothing (a
    no-op run still reports zero changes). Under ``test=True`` it fires nothing.

    A ``done`` marker reads the results of the states it follows (its ``require`` or
    ``onfail`` requisites, the stage's states) for ``result`` (``false`` when one failed) and
    a one-line ``comment`` (what failed first, inside a ``salt.state`` the minion's failing
    state); ``duration`` is the time since the same run's ``start`` marker of that stage. Put
    a ``done`` marker that ``require``s the stage's states, and one with ``onfail`` on them
    for a failed stage; the failed one fires only when the stage started.

    .. code-block:: yaml

        chain-stage-image-start:
          chain.stage:
            - name: image
            - run_id: 20261206T120000-3f2a1c
            - details: {app: app, ref: 3f2a1c9d}
            - require:
              - chain: chain-stage-pipeline-done
        chain-image:
          salt.state:
            - tgt: build1
            - sls: [chain.image]
            - require:
              - chain: chain-stage-image-start
        chain-stage-image-done:
          chain.stage:
            - name: image
            - run_id: 20261206T120000-3f2a1c
            - event: done
            - require:
              - salt: chain-image
        chain-stage-image-failed:
          chain.stage:
            - name: image
            - run_id: 20261206T120000-3f2a1c
            - event: done
            - onfail:
              - salt: chain-image

    name
        The stage (``infrastructure``, ``pipeline``, ``image``, ``rollout``, ``smoke`` in the
        chain's orchestrate; ``[a-z0-9_-]``).
    run_id
        The run (pillar ``chain:run_id``; no ``/``).
    event
        ``start`` (default) or ``done``.
    details
        More data for the event (plain values: the app, the commit, the pipeline's job).
    """
    ret = chain_states.new_ret(name)
    try:
        chain_stage.check(name, event, run_id, details)
    except chain_states.CAUGHT as err:
        return chain_states.fail(ret, err, changes={})
    tag = chain_stage.tag(run_id, name, event)
    started = __context__.setdefault("chain.stage", {})
    data = dict(details or {}, run_id=run_id, stage=name, at=time.time())
    if event == "start":
        started[(run_id, name)] = data["at"]
        what = f"stage {name} started"
    elif (run_id, name) not in started:
        ret["comment"] = f"stage {name} did not start: {tag} not fired"
        return ret
    else:
        result, comment = chain_stage.outcome(chain_stage.followed(__low__), __running__)
        duration = round(data["at"] - started[(run_id, name)], 3)
        data.update(duration=duration, result=result, comment=comment)
        what = f"stage {name} {'done' if result else 'failed'} in {duration:.1f}s: {comment}"
    if __opts__["test"]:
        ret["comment"] = f"{tag} would be fired ({what})"
        return ret
    sent = _fire(data, tag)
    ret["comment"] = f"{what}; {tag} {'fired' if sent else 'NOT fired (see the master log)'}"
    return ret
