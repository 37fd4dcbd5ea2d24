{#- The app's git repository served over the network: git daemon in a container on the chain
    network (formulas/chain/files/source), its bare repositories on a volume, published on
    loopback only. The formula seeds/updates the repository from a checkout on this minion
    (pillar chain:source:checkout; the history of chain:source:prefix), pushing through the
    loopback port: the served branch only moves forward. A commit's split is cached in the
    mirror (seed.sh): an unchanged checkout splits and pushes nothing. Agents on the network
    clone git://<name>:9418/<repo>.git. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set src = chain.source %}
{%- set mirror = src.mirror or (opts.cachedir ~ '/saltext-chain/' ~ src.name ~ '-mirror.git') %}

chain-source-network-container_network-present:
  container_network.present:
    - name: {{ chain.network.name }}
{%- if chain.network.subnet %}
    - subnet: {{ chain.network.subnet }}
{%- endif %}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

{%- if src.build %}

chain-source-image-container_image-present:
  container_image.present:
    - name: {{ src.image }}
    - build: {{ src.build }}
    - base_image: {{ src.base_image }}
    - profile: {{ chain.profile | json }}
    - require_in:
      - container: chain-source-container-running
{%- endif %}

chain-source-volume-container_volume-present:
  container_volume.present:
    - name: {{ src.volume }}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

chain-source-container-running:
  container.running:
    - name: {{ src.name }}
    - image: {{ src.image }}
    - networks: [{{ chain.network.name }}]
    - binds:
      - {{ src.volume }}:/srv/git
    - ports: ["{{ src.bind }}:{{ src.port }}:9418"]
    - environment:
        CHAIN_GIT_REPOS: {{ src.repo | json }}
    - init: true
    - labels: {{ chain.labels | json }}
    - restart_policy: unless-stopped
    - wait_healthy: true
    - health_timeout: {{ src.health_timeout }}
    - profile: {{ chain.profile | json }}
    - require:
      - container_network: chain-source-network-container_network-present
      - container_volume: chain-source-volume-container_volume-present

{%- if src.checkout %}

chain-source-seed-cmd-script:
  cmd.script:
    - source: salt://{{ tplroot }}/files/source/seed.sh
    - args: >-
        {{ src.checkout | quote }} {{ (src.prefix or '') | quote }} {{ src.rev | quote }}
        git://{{ src.bind }}:{{ src.port }}/{{ src.repo }}.git {{ src.branch | quote }}
        {{ mirror | quote }}
    - shell: /bin/sh
    - stateful: true
    - require:
      - container: chain-source-container-running
{%- endif %}
