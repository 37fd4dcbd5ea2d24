{#- The chain's private registry as a container: Debian's docker-registry in an image built
    from formulas/chain/files/registry (the build server's /usr/bin/docker-registry copied into
    the context: no network at build time), htpasswd auth for the pillar user, storage on a
    volume, published on loopback only, healthy before the state succeeds. The bcrypt htpasswd
    entry is written on the minion (files/htpasswd.sh, the password on its stdin only) and its
    directory mounted read-only: the plain password is in no environment variable, argument,
    label or state return of the container. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set reg = chain.registry.server %}
{%- set build_dir = reg.build_dir or (opts.cachedir ~ '/saltext-chain/' ~ reg.name ~ '-image') %}
{%- set auth_dir = reg.auth_dir or (opts.cachedir ~ '/saltext-chain/' ~ reg.name ~ '-auth') %}

{%- if not reg.password %}

chain-registry-password-missing:
  test.fail_without_changes:
    - name: chain-registry-password
    - comment: "pillar chain:registry:server:password is empty: the registry user's password"
{%- elif not reg.username or not (reg.username | regex_match('^([A-Za-z0-9._-]+)$')) %}

chain-registry-username-invalid:
  test.fail_without_changes:
    - name: chain-registry-username
    - comment: "pillar chain:registry:server:username must be letters, digits, '.', '_' or '-'"
{%- else %}

{%-   if reg.build %}

chain-registry-context-file-recurse:
  file.recurse:
    - name: {{ build_dir }}
    - source: {{ reg.build }}
    - makedirs: true
    - dir_mode: '0700'
    - file_mode: '0600'

chain-registry-binary-file-managed:
  file.managed:
    - name: {{ build_dir }}/docker-registry
    - source: {{ reg.binary }}
    - mode: '0755'
    - show_changes: false
    - require:
      - file: chain-registry-context-file-recurse

chain-registry-image-container_image-present:
  container_image.present:
    - name: {{ reg.image }}
    - build: {{ build_dir }}
    - base_image: {{ reg.base_image }}
    - profile: {{ chain.profile | json }}
    - require:
      - file: chain-registry-binary-file-managed
    - require_in:
      - container: chain-registry-container-running
{%-   endif %}

chain-registry-htpasswd-cmd-script:
  cmd.script:
    - source: salt://{{ tplroot }}/files/htpasswd.sh
    - args: {{ (auth_dir ~ '/htpasswd') | quote }} {{ reg.username | quote }}
    - stdin: {{ reg.password | string | json }}
    - stdin_raw_newlines: true
    - shell: /bin/sh
    - stateful: true
    - output_loglevel: quiet

chain-registry-volume-container_volume-present:
  container_volume.present:
    - name: {{ reg.volume }}
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}

chain-registry-container-running:
  container.running:
    - name: {{ reg.name }}
    - image: {{ reg.image }}
    - binds:
      - {{ reg.volume }}:/var/lib/docker-registry
      - {{ auth_dir }}:/etc/docker/registry/auth:ro
    - ports: ["{{ reg.bind }}:{{ reg.port }}:5000"]
    - labels: {{ chain.labels | json }}
    - restart_policy: unless-stopped
    - wait_healthy: true
    - health_timeout: {{ reg.health_timeout }}
    - profile: {{ chain.profile | json }}
    - require:
      - container_volume: chain-registry-volume-container_volume-present
    # the registry reads the file when it starts: a new entry restarts it
    - watch_action: restart
    - watch:
      - cmd: chain-registry-htpasswd-cmd-script
{%- endif %}
