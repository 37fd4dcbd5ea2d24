{#- Build host: log in to the registry, build the app image (content-addressed), push it. #}
{%- set stack = pillar['stack'] %}

registry-login:
  container_registry.logged_in:
    - name: {{ stack.registry }}

app-image:
  container_image.present:
    - name: {{ stack.registry }}/stack/app:{{ stack.version }}
    - build: salt://stack/image
    - buildargs:
        VERSION: "{{ stack.version }}"
    - labels:
        saltext-chain.test: "1"
    - push: true
    - require:
      - container_registry: registry-login
