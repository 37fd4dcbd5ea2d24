{#- The chain's private registry as a container: Debian's docker-registry in an image built
    from formulas/chain/files/registry (the build server's /usr/bin/docker-registry copied into
    the context: no network at build time), htpasswd auth for the pillar user, storage on a
    volume, published on loopback only, healthy before the state succeeds. The registry's user is
    pillar container:registries:<chain:registry:address> (username, password: the one place of
    the password, which pushes and pulls use too). Its bcrypt htpasswd entry is written on the
    minion by chain_secrets.registry_htpasswd, which reads the password from pillar when the
    state runs: this sls holds only the address (state.show_sls shows no secret), and the plain
    password is in no environment variable, argument, label or state return. The file's
    directory is mounted read-only.
    With chain:registry:tls:enabled (docs/certificates.md) the registry serves TLS: its key and
    certificate (registry_cert.sls, signed by the chain's CA) are mounted read-only and named by
    REGISTRY_HTTP_TLS_CERTIFICATE/_KEY; a renewed certificate restarts it. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set reg = chain.registry.server %}
{%- set build_dir = reg.build_dir or (opts.cachedir ~ '/saltext-chain/' ~ reg.name ~ '-image') %}
{%- set auth_dir = reg.auth_dir or (opts.cachedir ~ '/saltext-chain/' ~ reg.name ~ '-auth') %}
{%- set address = chain.registry.address %}
{%- set creds = (salt['pillar.get']('container:registries', {}) or {}).get(address) or {} %}
{%- set creds_key = 'container:registries:' ~ address %}
{%- set tls = chain.registry.tls %}
{%- set tls_dir = tls.dir or ('/etc/pki/saltext-chain/' ~ reg.name) %}
{%- if tls.enabled %}

include:
  - {{ tplroot }}.registry_cert
{%- endif %}

{%- if reg.get('password') is not none %}

chain-registry-password-moved:
  test.fail_without_changes:
    - name: chain-registry-password
    - comment: {{ ("pillar chain:registry:server:password is no longer read: the registry's "
                   ~ "password has one place, " ~ creds_key ~ ":password") | json }}
{%- elif not creds.get('password') %}

chain-registry-password-missing:
  test.fail_without_changes:
    - name: chain-registry-password
    - comment: {{ ("pillar " ~ creds_key ~ ":password is empty: the registry user's password")
                  | json }}
{%- elif not creds.get('username') or not (creds.username | string | regex_match('^([A-Za-z0-9._-]+)$')) %}

chain-registry-username-invalid:
  test.fail_without_changes:
    - name: chain-registry-username
    - comment: {{ ("pillar " ~ creds_key ~ ":username must be letters, digits, '.', '_' or '-'")
                  | json }}
{%- elif reg.get('username') and reg.username != creds.username %}

chain-registry-username-differs:
  test.fail_without_changes:
    - name: chain-registry-username
    - comment: {{ ("pillar chain:registry:server:username differs from " ~ creds_key
                   ~ ":username, the registry's user: leave it out") | json }}
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
    - labels: {{ chain.labels | json }}
    - profile: {{ chain.profile | json }}
    - require:
      - file: chain-registry-binary-file-managed
    - require_in:
      - container: chain-registry-container-running
{%-   endif %}

chain-registry-htpasswd-module-run:
  module.run:
    - chain_secrets.registry_htpasswd:
      - path: {{ (auth_dir ~ '/htpasswd') | json }}
      - address: {{ address | json }}
    - unless:
      - fun: chain_secrets.registry_htpasswd_current
        path: {{ (auth_dir ~ '/htpasswd') | json }}
        address: {{ address | json }}

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
{%-   if tls.enabled %}
      - {{ tls_dir }}:/etc/docker/registry/tls:ro
    - environment:
        REGISTRY_HTTP_TLS_CERTIFICATE: /etc/docker/registry/tls/registry.crt
        REGISTRY_HTTP_TLS_KEY: /etc/docker/registry/tls/registry.key
{%-   endif %}
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
      - module: chain-registry-htpasswd-module-run
{%-   if tls.enabled %}
      - x509: chain-registry-tls-cert-x509-certificate_managed
{%-   endif %}
{%- endif %}
