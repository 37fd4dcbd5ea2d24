{#- The registry's TLS key and certificate on the registry's host (included by registry.sls when
    chain:registry:tls:enabled): the key made here (x509.private_key_managed, 0400), the
    certificate for the address's name requested from the CA's minion through the master's
    peer interface (x509.certificate_managed with ca_server and the signing policy, which has
    the last word on what is signed). Reissued once fewer than tls:cert:days_remaining days are
    left; the registry container watches it and restarts on the new one. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set tls = chain.registry.tls %}
{%- set reg = chain.registry.server %}
{%- set host = chain.registry.address.rsplit(':', 1)[0] %}
{%- set tls_dir = tls.dir or ('/etc/pki/saltext-chain/' ~ reg.name) %}

chain-registry-tls-directory:
  file.directory:
    - name: {{ tls_dir | json }}
    - makedirs: true
    - mode: '0700'

chain-registry-tls-key-x509-private_key_managed:
  x509.private_key_managed:
    - name: {{ (tls_dir ~ '/registry.key') | json }}
    - algo: ec
    - keysize: 256
    - require:
      - file: chain-registry-tls-directory

chain-registry-tls-cert-x509-certificate_managed:
  x509.certificate_managed:
    - name: {{ (tls_dir ~ '/registry.crt') | json }}
    - ca_server: {{ (tls.ca_server or chain.build_target) | json }}
    - signing_policy: {{ tls.signing_policy | json }}
    - private_key: {{ (tls_dir ~ '/registry.key') | json }}
    - CN: {{ host | json }}
    - subjectAltName: {{ ('DNS:' ~ host) | json }}
    - basicConstraints: "critical, CA:false"
    - keyUsage: "critical, digitalSignature, keyEncipherment"
    - extendedKeyUsage: serverAuth
    - days_valid: {{ tls.cert.days_valid }}
    - days_remaining: {{ tls.cert.days_remaining }}
    - mode: '0644'
    - require:
      - x509: chain-registry-tls-key-x509-private_key_managed
