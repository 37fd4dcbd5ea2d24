{#- On every host whose engine pulls from or pushes to the chain's registry: the registry's
    name in /etc/hosts (host.present, when chain:registry:tls:ip is set; otherwise the
    network's DNS resolves it) and the chain's CA certificate as the engine's
    <tls:certs_d>/<registry:address>/ca.crt, read from the CA's minion when the state runs
    (chain_tls.install_registry_ca, through the master's peer interface), so that one
    highstate can make the CA and trust it. No insecure-registries: the engine verifies the
    registry's certificate against this file. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set tls = chain.registry.tls %}
{%- set address = chain.registry.address %}
{%- set ca_server = tls.ca_server or chain.build_target %}

{%- if not tls.enabled %}

chain-registry-trust-tls-off:
  test.fail_without_changes:
    - name: chain-registry-trust
    - comment: "pillar chain:registry:tls:enabled is false: the registry serves no TLS to trust"
{%- else %}
{%-   if tls.ip %}

chain-registry-name-host-present:
  host.present:
    - name: {{ address.rsplit(':', 1)[0] | json }}
    - ip: {{ tls.ip | json }}
{%-   endif %}

chain-registry-ca-module-run:
  module.run:
    - chain_tls.install_registry_ca:
      - address: {{ address | json }}
      - signing_policy: {{ tls.signing_policy | json }}
      - ca_server: {{ ca_server | json }}
      - certs_d: {{ tls.certs_d | json }}
    - unless:
      - fun: chain_tls.registry_ca_current
        address: {{ address | json }}
        signing_policy: {{ tls.signing_policy | json }}
        ca_server: {{ ca_server | json }}
        certs_d: {{ tls.certs_d | json }}
{%- endif %}
