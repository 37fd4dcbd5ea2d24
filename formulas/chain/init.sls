{#- The chain as one orchestrate:
      salt-run state.orchestrate chain pillar='{"chain": {"ref": "<branch, tag or commit>"}}'
    1. infrastructure: on the build server the registry, the source server, the Jenkins
       controller and agent pools when chain:jenkins:enabled (chain.jenkins, the jenkins
       formula) and the pipeline job (chain.registry, chain.source, chain.jobs), and every app
       server's frontend (network + HAProxy), side by side;
    2. pipeline: the app's job for the exact commit of the ref on an agent (chain.pipeline),
       unless a successful build of that commit exists; a failed build fails here with the
       console tail;
    3. the server image built on the build server from that build's archived artifact, tagged
       with the ref and pushed (chain.image);
    4. the rollout across the app servers, server by server (chain.rolled_out, through the chain.rollout runner: health gate,
       rollback of the servers already updated, one rollout per app at a time);
    5. a smoke check through every server's frontend (chain.smoke: /version names the ref; a
       passing check changes nothing).
    Each stage requires the one before: a failing stage stops the orchestrate, and salt-run
    exits non-zero. Secrets are not passed along: the minions read the registry password
    (chain:registry:server:password, container:registries:<address>) from their own pillar. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{#- The same map as every sls of the formula: `declared` is defaults.yaml + pillar `chain`
    (the orchestrate runs on the master: no server's overrides, no minion's names). #}
{%- from tplroot ~ "/map.jinja" import declared as chain, per_minion_name with context %}
{%- set image = chain.registry.address ~ '/' ~ chain.registry.repository ~ ':' ~ chain.ref %}
{%- set shared = salt['defaults.deepcopy'](chain) %}
{%- do shared.registry.server.pop('password', None) %}
{%- set passed = {'chain': shared} %}

{%- if not chain.ref %}

chain-ref-missing:
  test.fail_without_changes:
    - name: "pillar chain:ref is empty: salt-run state.orchestrate chain pillar='{\"chain\": {\"ref\": \"<branch or sha>\"}}'"
{%- else %}

chain-infrastructure:
  salt.state:
    - tgt: {{ chain.targets | json }}
    - tgt_type: list
    - sls: [{{ tplroot }}.frontend]
    - pillar: {{ passed | json }}

chain-build-infrastructure:
  salt.state:
    - tgt: {{ chain.build_target }}
    - sls: [{{ tplroot }}.registry, {{ tplroot }}.source, {{ tplroot }}.jobs]
    - pillar: {{ passed | json }}

chain-pipeline:
  salt.state:
    - tgt: {{ chain.build_target }}
    - sls: [{{ tplroot }}.pipeline]
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-infrastructure
      - salt: chain-build-infrastructure

chain-image:
  salt.state:
    - tgt: {{ chain.build_target }}
    - sls: [{{ tplroot }}.image]
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-pipeline

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

{%- for target in chain.targets %}

chain-smoke-{{ target }}:
  salt.state:
    - tgt: {{ target }}
    - sls: [{{ tplroot }}.smoke]
    - pillar: {{ passed | json }}
    - require:
      - chain: chain-rollout
{%- endfor %}
{%- endif %}
