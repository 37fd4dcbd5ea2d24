{#- Application host: a network, a volume, the app pulled from the registry, healthy. #}
{%- set stack = pillar['stack'] %}

stack-net:
  container_network.present:
    - name: stack
    - labels:
        saltext-chain.test: "1"

stack-data:
  container_volume.present:
    - name: stack-data
    - labels:
        saltext-chain.test: "1"

stack-app:
  container.running:
    - name: stack-app
    - image: {{ stack.registry }}/stack/app:{{ stack.version }}
    - networks:
        stack:
          aliases: [app]
    - binds:
      - stack-data:/data
    - ports:
      - 127.0.0.1::8080
    - labels:
        saltext-chain.test: "1"
    - wait_healthy: true
    - health_timeout: 60
    - require:
      - container_network: stack-net
      - container_volume: stack-data
