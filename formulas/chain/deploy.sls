{#- The app on this server: container_service.running of pillar `chain:image` behind the
    frontend. The chain runner applies it server by server (salt-run chain.rollout). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}

include:
  - {{ tplroot }}.frontend

{%- if not chain.image %}

chain-deploy-image-missing:
  test.fail_without_changes:
    - name: "pillar chain:image is empty: salt-run chain.rollout APP IMAGE passes it"
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
    - update: {{ chain.service['update'] | json }}
    - history: {{ chain.service.history }}
    - stop_timeout: {{ chain.service.stop_timeout }}
    - profile: {{ chain.profile | json }}
    - require:
      - container: chain-frontend-container-running
{%- endif %}
