{#- The chain as one orchestrate:
      salt-run state.orchestrate chain pillar='{"chain": {"ref": "<branch, tag or commit>"}}'
    1. infrastructure: on the build server the registry, the source server, the Jenkins
       controller and agent pools when chain:jenkins:enabled (chain.jenkins, the jenkins
       formula) and the pipeline job (chain.registry, chain.source, chain.jobs), and every app
       server's frontend (network + HAProxy), side by side; with chain:registry:tls:enabled,
       the CA first (chain.ca on its minion), then chain.registry_trust on the build server
       and every app server with their infrastructure;
    2. pipeline: the app's job for the exact commit of the ref on an agent (chain.pipeline),
       unless a successful build of that commit exists; a failed build fails here with the
       console tail;
    3. the server image built on the build server from that build's archived artifact, tagged
       with the ref and pushed (chain.image);
    4. the rollout across the app servers (chain.rolled_out, through the chain.rollout runner:
       the first server as a canary, then the rest together, each behind its health gate,
       rollback of the servers already updated, one rollout per app at a time);
    5. a smoke check through every server's frontend (chain.smoke: /version names the ref; a
       passing check changes nothing).
    Each stage requires the one before: a failing stage stops the orchestrate, and salt-run
    exits non-zero. Secrets are not passed along: the minions read the registry's credentials
    (container:registries:<address>), the push users and keys from their own pillar.
    Branch policy: pillar chain:deploy (default true); false builds and tests only (stages 1
    and 2: no image pushed, no rollout, no smoke).
    Live progress: with pillar chain:run_id, chain.stage markers fire
    chain/run/<run_id>/stage/<stage>/start and .../done ({at, duration, result, comment}) on the
    master bus as each stage starts and ends (a failed stage's done has result false); they
    change nothing. Without it, no marker is rendered. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{#- The same map as every sls of the formula: `declared` is defaults.yaml + pillar `chain`
    (the orchestrate runs on the master: no server's overrides, no minion's names). #}
{%- from tplroot ~ "/map.jinja" import declared as chain, per_minion_name with context %}
{%- set image = chain.registry.address ~ '/' ~ chain.registry.repository ~ ':' ~ chain.ref %}
{#- No secret is passed along (a stage's pillar is in the publish, the job cache, the minion's
    debug log and the job's events): every minion reads its own. Out go the master's push keys
    (chain:push: webhook_key, source_key; the queue's push record too, which no stage reads),
    the source server's push users and the registry password's old key. #}
{%- set shared = salt['defaults.deepcopy'](chain) %}
{%- do shared.pop('push', None) %}
{%- do (shared.get('source') or {}).pop('users', None) %}
{%- do (shared.registry.get('server') or {}).pop('password', None) %}
{%- set passed = {'chain': shared} %}
{%- set run_id = chain.get('run_id') or '' %}
{%- set deploy = true if chain.get('deploy') is none else chain.deploy | to_bool %}
{%- set stages = ['infrastructure', 'pipeline'] + (['image', 'rollout', 'smoke'] if deploy else []) %}
{%- set details = {'app': chain.app, 'ref': chain.ref | string, 'deploy': deploy} %}

{#- The stage markers (chain.stage, run on the master): `start` before the stage's states (it
    requires the previous stage's `done`), `done` once they succeeded, `failed` (a `done` with
    result false) when one of them failed. #}
{%- macro start(stage, extra={}) %}
{%-   if run_id %}
{%-     set index = stages.index(stage) %}

chain-stage-{{ stage }}-start:
  chain.stage:
    - name: {{ stage }}
    - run_id: {{ run_id | json }}
    - details: {{ dict(details, **extra) | json }}
{%-     if index %}
    - require:
      - chain: chain-stage-{{ stages[index - 1] }}-done
{%-     endif %}
{%-   endif %}
{%- endmacro %}

{%- macro done(stage, states) %}
{%-   if run_id %}
{%-     for id, kind in (('done', 'require'), ('failed', 'onfail')) %}

chain-stage-{{ stage }}-{{ id }}:
  chain.stage:
    - name: {{ stage }}
    - run_id: {{ run_id | json }}
    - event: done
    - {{ kind }}: {{ states | json }}
{%-     endfor %}
{%-   endif %}
{%- endmacro %}

{%- macro after_start(stage) %}
{%-   if run_id %}
      - chain: chain-stage-{{ stage }}-start
{%-   endif %}
{%- endmacro %}

{%- if not chain.ref %}

chain-ref-missing:
  test.fail_without_changes:
    - name: "pillar chain:ref is empty: salt-run state.orchestrate chain pillar='{\"chain\": {\"ref\": \"<branch or sha>\"}}'"
{%- else %}
{{- start('infrastructure') }}
{#- With the registry's TLS (chain:registry:tls:enabled, docs/certificates.md): the CA first on
    its minion (chain.ca), then every engine that pushes or pulls trusts it (chain.registry_trust
    on the build server and the app servers, beside their infrastructure). #}
{%- set tls = chain.registry.tls.enabled %}
{%- set trust = [tplroot ~ '.registry_trust'] if tls else [] %}
{%- set infrastructure = [{'salt': 'chain-infrastructure'}, {'salt': 'chain-build-infrastructure'}] %}
{%- if tls %}
{%-   do infrastructure.append({'salt': 'chain-ca'}) %}

chain-ca:
  salt.state:
    - tgt: {{ (chain.registry.tls.ca_server or chain.build_target) | json }}
    - timeout: {{ chain.stage_timeout }}
    - sls: [{{ tplroot }}.ca]
    - pillar: {{ passed | json }}
{%-   if run_id %}
    - require:
{{- after_start('infrastructure') }}
{%-   endif %}
{%- endif %}

chain-infrastructure:
  salt.state:
    - tgt: {{ chain.targets | json }}
    - timeout: {{ chain.stage_timeout }}
    - tgt_type: list
    - sls: {{ (trust + [tplroot ~ '.frontend']) | json }}
    - pillar: {{ passed | json }}
{#- Beside the build server's infrastructure, unless the build server is an app server too: a
    minion runs one state run at a time (the second is refused: "state.sls is running"). #}
{%- if chain.build_target not in chain.targets %}
    - parallel: true
{%- endif %}
{%- if run_id or tls %}
    - require:
{{- after_start('infrastructure') }}
{%-   if tls %}
      - salt: chain-ca
{%-   endif %}
{%- endif %}

chain-build-infrastructure:
  salt.state:
    - tgt: {{ chain.build_target }}
    - timeout: {{ chain.stage_timeout }}
    - sls: {{ (trust + [tplroot ~ '.registry', tplroot ~ '.source', tplroot ~ '.jobs']) | json }}
    - pillar: {{ passed | json }}
{%- if run_id or tls %}
    - require:
{{- after_start('infrastructure') }}
{%-   if tls %}
      - salt: chain-ca
{%-   endif %}
{%- endif %}
{{- done('infrastructure', infrastructure) }}
{{- start('pipeline', {'job': chain.jobs.name, 'jenkins_profile': chain.jobs.jenkins_profile}) }}

chain-pipeline:
  salt.state:
    - tgt: {{ chain.build_target }}
    - timeout: {{ chain.stage_timeout }}
    - sls: [{{ tplroot }}.pipeline]
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-infrastructure
      - salt: chain-build-infrastructure
{{- after_start('pipeline') }}
{{- done('pipeline', [{'salt': 'chain-pipeline'}]) }}
{%- if deploy %}
{{- start('image') }}

chain-image:
  salt.state:
    - tgt: {{ chain.build_target }}
    - timeout: {{ chain.stage_timeout }}
    - sls: [{{ tplroot }}.image]
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-pipeline
{{- after_start('image') }}
{{- done('image', [{'salt': 'chain-image'}]) }}
{{- start('rollout') }}

chain-rollout:
  chain.rolled_out:
    - app: {{ chain.app }}
    - image: {{ image }}
    - ref: "{{ chain.ref }}"
    - targets: {{ chain.targets | json }}
    - sls: {{ tplroot }}.deploy
    - service: {{ per_minion_name(chain, 'service', '{minion}') }}
    - frontend: {{ per_minion_name(chain, 'frontend', '{minion}') }}
    - backend: {{ chain.frontend.backend }}
    - network: {{ per_minion_name(chain, 'network', '{minion}') }}
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-image
{{- after_start('rollout') }}
{{- done('rollout', [{'chain': 'chain-rollout'}]) }}
{{- start('smoke') }}

{%- for target in chain.targets %}

chain-smoke-{{ target }}:
  salt.state:
    - tgt: {{ target }}
    - timeout: {{ chain.stage_timeout }}
    - sls: [{{ tplroot }}.smoke]
    - pillar: {{ passed | json }}
    - parallel: true
    - require:
      - chain: chain-rollout
{{- after_start('smoke') }}
{%- endfor %}
{%- set smokes = [] %}
{%- for target in chain.targets %}
{%-   do smokes.append({'salt': 'chain-smoke-' ~ target}) %}
{%- endfor %}
{{- done('smoke', smokes) }}
{%- endif %}
{%- endif %}
