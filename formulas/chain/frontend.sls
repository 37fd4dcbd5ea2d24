{#- The server's HAProxy frontend (images/haproxy) on its network: replicas of the app enter it
    through the runtime API (container_service.running). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}

chain-frontend-network-container_network-present:
  container_network.present:
    - name: {{ chain.network.name }}
{%- if chain.service.mode == 'swarm' %}
    - driver: overlay
    - attachable: true
{%- endif %}
{%- if chain.network.subnet %}
    - subnet: {{ chain.network.subnet }}
{%- endif %}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

{%- if chain.frontend.build %}

chain-frontend-image-container_image-present:
  container_image.present:
    - name: {{ chain.frontend.image }}
    - build: {{ chain.frontend.build }}
    - base_image: {{ chain.frontend.base_image }}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}
    - require_in:
      - container: chain-frontend-container-running
{%- endif %}

chain-frontend-container-running:
  container.running:
    - name: {{ chain.frontend.name }}
    - image: {{ chain.frontend.image }}
    - networks: [{{ chain.network.name }}]
    - ports: ["{{ chain.frontend.bind }}:{{ chain.frontend.port }}:8080"]
    - environment:
        CHAIN_BACKEND: {{ chain.frontend.backend }}
        CHAIN_APP_PORT: "{{ chain.service.port }}"
        CHAIN_SLOTS: "{{ chain.frontend.slots }}"
    - labels: {{ chain.labels | json }}
    - restart_policy: unless-stopped
    - wait_healthy: true
    - health_timeout: 30
    - profile: {{ chain.profile | json }}
    - require:
      - container_network: chain-frontend-network-container_network-present
