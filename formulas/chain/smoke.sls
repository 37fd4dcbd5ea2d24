{#- The smoke check of this server (the orchestrate's stage 5): the app answers through the
    server's frontend, on the address the frontend publishes, and /version names pillar
    `chain:ref`. http.query changes nothing: a passing check reports no change, a failing one
    fails the stage (the status and the body it got are in the state's data). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{#- a frontend published on every address is asked on loopback #}
{%- set host = '127.0.0.1' if chain.frontend.bind in ('', '0.0.0.0', '::') else chain.frontend.bind %}
{%- set host = '[' ~ host ~ ']' if ':' in host else host %}

chain-smoke-version-http-query:
  http.query:
    - name: http://{{ host }}:{{ chain.frontend.port }}/version
    - status: 200
    - match: {{ (chain.ref or '') | string | json }}
    - timeout: 10
