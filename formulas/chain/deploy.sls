{#- The app on this server: container_service.running of pillar `chain:image` behind the
    frontend. The chain runner applies it (salt-run chain.rollout): the canary first, then the
    rest together. On the canary server (pillar `chain:wave`: canary) the update takes
    `chain:service:update_canary` on top (by default `limit: 1`: one new replica, gated and
    monitored, the previous ones serving beside it); then (pillar `chain:wave`: rest, on every
    server at once) `chain:service:update_after_canary` (by default every replica at once: the
    canary proved the image; each replica is still gated and monitored).
    With `chain:service:mode: swarm` it runs once, on the Swarm manager (`chain:service:manager`):
    one Swarm service (docs/swarm.md) on an attachable overlay network, behind the frontend on the
    manager; Swarm rolls the tasks across the nodes under `update`, our gate on top. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set update = salt['defaults.deepcopy'](chain.service['update']) %}
{%- if chain.get('wave') == 'canary' %}
{%-   do update.update(chain.service.get('update_canary') or {}) %}
{%- endif %}
{%- if chain.get('wave') == 'rest' %}
{%-   do update.update(chain.service.get('update_after_canary') or {}) %}
{%-   if update.get('parallelism') == 'all' %}
{%-     do update.update({'parallelism': chain.service.replicas}) %}
{%-   endif %}
{%- endif %}

include:
  - {{ tplroot }}.frontend

{%- if not chain.image %}

chain-deploy-image-missing:
  test.fail_without_changes:
    - name: "pillar chain:image is empty: salt-run chain.rollout APP IMAGE passes it"
{%- elif chain.service.mode == 'swarm' and chain.service.manager
         and chain.service.manager != grains.get('id', opts.id) %}

chain-deploy-not-the-swarm-manager:
  test.fail_without_changes:
    - name: "chain:service:mode is swarm: the service is deployed on its manager {{ chain.service.manager }}, not here"
{%- else %}

chain-deploy-container_service-running:
  container_service.running:
    - name: {{ chain.service.name }}
    - image: {{ chain.image }}
    - replicas: {{ chain.service.replicas }}
    - frontend: {{ chain.frontend.name }}
    - backend: {{ chain.frontend.backend }}
    - network: {{ chain.network.name }}
    - port: {{ chain.service.port }}
    - healthcheck: {{ chain.service.healthcheck | json }}
    - environment: {{ chain.service.environment | json }}
    - labels: {{ chain.labels | json }}
    - update: {{ update | json }}
    - history: {{ chain.service.history }}
    - stop_timeout: {{ chain.service.stop_timeout }}
    - profile: {{ chain.profile | json }}
{%- if chain.service.mode == 'swarm' %}
    - mode: swarm
    - placement: {{ (chain.service.placement or none) | json }}
    - publish: {{ chain.service.publish | json }}
{%- endif %}
    - require:
      - container: chain-frontend-container-running
{%- endif %}
