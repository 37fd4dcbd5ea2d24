{#- The chain as one orchestrate:
      salt-run state.orchestrate chain pillar='{"chain": {"ref": "<branch or sha>"}}'
    1. infrastructure: every app server's frontend (network + HAProxy);
    2. (not yet: the pipeline job on a Jenkins agent - it needs issue 9's agent pools);
    3. the server image built for the ref on the build server, tagged with it and pushed;
    4. the rollout across the app servers, server by server (chain.rollout: health gate,
       rollback of the servers already updated, one rollout per app at a time);
    5. a smoke check through every server's frontend (/version names the ref).
    Each stage requires the one before: a failing stage stops the orchestrate, and salt-run
    exits non-zero. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- import_yaml tplroot ~ "/defaults.yaml" as defaults %}
{%- set chain = salt['pillar.get']('chain', default=defaults['chain'], merge=True) %}
{%- set image = chain.registry.address ~ '/' ~ chain.registry.repository ~ ':' ~ chain.ref %}
{%- set suffix = '-{minion}' if chain.per_minion else '' %}
{%- set passed = {'chain': chain} %}

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

chain-image:
  salt.state:
    - tgt: {{ chain.build_target }}
    - sls: [{{ tplroot }}.image]
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-infrastructure

chain-rollout:
  salt.runner:
    - name: chain.rollout
    - app: {{ chain.app }}
    - image: {{ image }}
    - ref: "{{ chain.ref }}"
    - targets: {{ chain.targets | json }}
    - sls: {{ tplroot }}.deploy
    - service: {{ chain.service.name ~ suffix }}
    - frontend: {{ chain.frontend.name ~ suffix }}
    - backend: {{ chain.frontend.backend }}
    - network: {{ chain.network.name ~ suffix }}
    - pillar: {{ passed | json }}
    - require:
      - salt: chain-image

{%- for target in chain.targets %}

chain-smoke-{{ target }}:
  salt.function:
    - name: container_service.smoke
    - tgt: {{ target }}
    - kwarg:
        frontend: {{ chain.frontend.name ~ ('-' ~ target if chain.per_minion else '') }}
        path: /version
        expect: "{{ chain.ref }}"
        profile: {{ chain.profile | json }}
    - require:
      - salt: chain-rollout
{%- endfor %}
{%- endif %}
