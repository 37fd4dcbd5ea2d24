{#- A container_service.running declared whole from pillar (tests/integration/test_swarm_service.py):
    pillar swarmsvc:name and swarmsvc:args, every argument as the test gives it. #}
{%- set svc = pillar['swarmsvc'] %}
{{ svc['name'] }}:
  container_service.running:
{%- for key, value in svc['args'].items() %}
    - {{ key }}: {{ value | json }}
{%- endfor %}
