{#- The chain's certificate authority, on its minion (chain:registry:tls:ca_server, by default
    the build server): a private key and a self-signed CA certificate made by Salt's x509
    states, at the paths of the CA's signing policy (pillar x509_signing_policies:<chain:
    registry:tls:signing_policy> of this minion: signing_private_key, signing_cert), so that
    the policy is their one place. The key is made here and never leaves this minion: other
    minions get certificates signed through the master's peer interface
    (x509.sign_remote_certificate) and the CA certificate through x509.get_signing_policy.
    Renewed (same key) once fewer than ca:days_remaining days are left. docs/certificates.md -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set tls = chain.registry.tls %}
{%- set ca = salt['chain_tls.ca_files'](tls.signing_policy) %}

{%- if ca.error %}

chain-ca-signing-policy-missing:
  test.fail_without_changes:
    - name: chain-ca
    - comment: {{ ca.error | json }}
{%- else %}

chain-ca-key-directory:
  file.directory:
    - name: {{ salt['file.dirname'](ca.key) | json }}
    - makedirs: true
    - mode: '0700'

chain-ca-key-x509-private_key_managed:
  x509.private_key_managed:
    - name: {{ ca.key | json }}
    - algo: ec
    - keysize: 256
    - require:
      - file: chain-ca-key-directory

chain-ca-cert-x509-certificate_managed:
  x509.certificate_managed:
    - name: {{ ca.cert | json }}
    - signing_private_key: {{ ca.key | json }}
    - CN: {{ tls.ca.cn | json }}
    - basicConstraints: "critical, CA:true"
    - keyUsage: "critical, cRLSign, keyCertSign"
    - subjectKeyIdentifier: hash
    - authorityKeyIdentifier: keyid:always,issuer
    - days_valid: {{ tls.ca.days_valid }}
    - days_remaining: {{ tls.ca.days_remaining }}
    - mode: '0644'
    - makedirs: true
    - require:
      - x509: chain-ca-key-x509-private_key_managed
{%- endif %}
