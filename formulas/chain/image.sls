{#- The app's server image, built on the build server from the app's context for pillar
    `chain:ref` (content-addressed: the same inputs never rebuild), tagged with the ref and
    pushed to the registry. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}

{%- if not chain.ref %}

chain-image-ref-missing:
  test.fail_without_changes:
    - name: "pillar chain:ref is empty: the commit to build"
{%- else %}

chain-image-container_image-present:
  container_image.present:
    - name: {{ chain.registry.address }}/{{ chain.registry.repository }}:{{ chain.ref }}
    - build: {{ chain.app_image.build }}
    - base_image: {{ chain.frontend.base_image }}
    - buildargs:
        APP_VERSION: "{{ chain.ref }}"
        APP_COMMIT: "{{ chain.ref }}"
    - push: {{ chain.registry.push | json }}
    - profile: {{ chain.profile | json }}
{%- endif %}
