{#- Build host: log in to the registry, build the app image (content-addressed), push it. #}
{%- set stack = pillar['stack'] %}
{%- set run = pillar['test_run'] %}

registry-login:
  container_registry.logged_in:
    - name: {{ stack.registry }}

app-image:
  container_image.present:
    - name: {{ stack.registry }}/sc-{{ run }}/app:{{ stack.version }}
    - build: salt://stack/image
    - buildargs:
        VERSION: "{{ stack.version }}"
    - labels:
        saltext-chain.test: "{{ run }}"
    - push: true
    - require:
      - container_registry: registry-login
