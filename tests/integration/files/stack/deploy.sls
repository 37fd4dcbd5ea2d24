{#- Application host: a network, a volume, the app pulled from the registry, healthy. #}
{%- set stack = pillar['stack'] %}
{%- set run = pillar['test_run'] %}

stack-net:
  container_network.present:
    - name: sc-{{ run }}-stack
    - labels:
        saltext-chain.test: "{{ run }}"

stack-data:
  container_volume.present:
    - name: sc-{{ run }}-stack-data
    - labels:
        saltext-chain.test: "{{ run }}"

stack-app:
  container.running:
    - name: sc-{{ run }}-stack-app
    - image: {{ stack.registry }}/sc-{{ run }}/app:{{ stack.version }}
    - networks:
        sc-{{ run }}-stack:
          aliases: [app]
    - binds:
      - sc-{{ run }}-stack-data:/data
    - ports:
      - 127.0.0.1::8080
    - labels:
        saltext-chain.test: "{{ run }}"
    - wait_healthy: true
    - health_timeout: 60
    - require:
      - container_network: stack-net
      - container_volume: stack-data
