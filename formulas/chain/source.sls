{#- The chain's source server (formulas/chain/files/source), a container on the chain network:
    git daemon (port 9418, published on loopback at source.port) and apache2 (git smart HTTP at
    /git/<repo>.git, hgweb at /hg/<repo>; published on loopback at source.http_port). Clones are
    anonymous; an HTTP push needs a user of pillar chain:source:users (bcrypt htpasswd written
    on this minion by chain_push.write_users, which reads the pillar itself: no password in this
    sls, a state return or the container; its directory mounted read-only); through git daemon
    only the Docker host pushes (the seed). Every branch push is recorded by the repositories'
    hooks in the spool (a bind mount of this minion's <cachedir>/saltext-chain/<name>-spool),
    which chain_push.forward (scheduled every source.forward_seconds) sends to the master.
    The formula seeds/updates the repository source.repo from a checkout on this minion (pillar
    chain:source:checkout; the history of chain:source:prefix), pushing through git daemon's
    loopback port: the served branch only moves forward. A commit's split is cached in the
    mirror (seed.sh): an unchanged checkout splits and pushes nothing. Agents on the network
    clone git://<name>:9418/<repo>.git. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set src = chain.source %}
{%- set mirror = src.mirror or (opts.cachedir ~ '/saltext-chain/' ~ src.name ~ '-mirror.git') %}
{%- set spool = src.spool or (opts.cachedir ~ '/saltext-chain/' ~ src.name ~ '-spool') %}
{%- set auth_dir = src.auth_dir or (opts.cachedir ~ '/saltext-chain/' ~ src.name ~ '-auth') %}
{%- set hg_volume = src.hg_volume or (src.volume ~ '-hg') %}
{%- set git_repos = [src.repo] + (src.repos | reject('equalto', src.repo) | list) %}

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
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}
    - require_in:
      - container: chain-source-container-running
{%- endif %}

chain-source-volume-container_volume-present:
  container_volume.present:
    - name: {{ src.volume }}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

chain-source-hg-volume-container_volume-present:
  container_volume.present:
    - name: {{ hg_volume }}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

chain-source-spool-file-directory:
  file.directory:
    - name: {{ spool | json }}
    - user: root
    - group: {{ src.www_gid }}
    - mode: '2770'
    - makedirs: true

chain-source-users-module-run:
  module.run:
    - chain_push.write_users:
      - path: {{ (auth_dir ~ '/htpasswd') | json }}
      - gid: {{ src.www_gid }}
    - unless:
      - fun: chain_push.users_current
        path: {{ (auth_dir ~ '/htpasswd') | json }}
        gid: {{ src.www_gid }}

chain-source-container-running:
  container.running:
    - name: {{ src.name }}
    - image: {{ src.image }}
    - networks: [{{ chain.network.name }}]
    - binds:
      - {{ src.volume }}:/srv/git
      - {{ hg_volume }}:/srv/hg
      - {{ (spool ~ ':/srv/spool') | json }}
      - {{ (auth_dir ~ ':/etc/chain-source/auth:ro') | json }}
    - ports:
      - "{{ src.bind }}:{{ src.port }}:9418"
      - "{{ src.bind }}:{{ src.http_port }}:80"
    - environment:
        CHAIN_GIT_REPOS: {{ git_repos | join(' ') | json }}
        CHAIN_HG_REPOS: {{ src.hg_repos | join(' ') | json }}
    - init: true
    - labels: {{ chain.labels | json }}
    - restart_policy: unless-stopped
    - wait_healthy: true
    - health_timeout: {{ src.health_timeout }}
    - profile: {{ chain.profile | json }}
    - require:
      - container_network: chain-source-network-container_network-present
      - container_volume: chain-source-volume-container_volume-present
      - container_volume: chain-source-hg-volume-container_volume-present
      - file: chain-source-spool-file-directory
      - module: chain-source-users-module-run

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

{%- if src.forward_seconds %}

chain-source-forward-schedule-present:
  schedule.present:
    - name: chain-push-forward-{{ src.name }}
    - function: chain_push.forward
    - job_kwargs:
        spool: {{ spool | json }}
    - seconds: {{ src.forward_seconds }}
    - maxrunning: 1
    - return_job: false
    - run_on_start: true
    - require:
      - file: chain-source-spool-file-directory
{%- endif %}
