{#- The app's server image, built on the build server from the archived artifact of the
    pipeline's successful build of the exact commit of pillar `chain:ref` (chain.pipeline):
    dist/app-<commit>.tar.gz fetched from Jenkins once into the minion's cache and unpacked,
    then built (content-addressed: the same artifact never rebuilds) with APP_VERSION=<ref> and
    APP_COMMIT=<commit>, tagged <registry>/<repository>:<ref> and pushed. Fails, building
    nothing, when no successful build of that commit exists. The orchestrate's stage 3.
    The commit, the build and the artifact are looked up when the states run
    (chain_pipeline.artifact through slots, once per run), never while rendering. Under
    test=True the first state says what would be fetched and nothing is built or written. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- from tplroot ~ "/lookups.jinja" import artifact with context %}
{%- set dest = chain.app_image.artifacts or (opts.cachedir ~ '/saltext-chain/' ~ chain.app ~ '-artifacts') %}

chain-image-artifact-test-configurable_test_state:
  test.configurable_test_state:
    - name: {{ ('the artifact of ' ~ chain.jobs.name ~ ' for ' ~ (chain.ref or '')) | json }}
    - changes: false
    - result: {{ artifact(chain, dest, 'result') | json }}
    - comment: {{ artifact(chain, dest, 'comment') | json }}
    - allow_test_mode_failure: true
{%- if not opts.test %}
{#- Under test the artifact may not be there yet: its build context cannot be read. #}

chain-image-container_image-present:
  container_image.present:
    - name: {{ chain.registry.address }}/{{ chain.registry.repository }}:{{ chain.ref }}
    - build: {{ artifact(chain, dest, 'context') | json }}
    - base_image: {{ chain.frontend.base_image }}
    - buildargs:
        APP_VERSION: "{{ chain.ref }}"
        APP_COMMIT: {{ artifact(chain, dest, 'commit') | json }}
    - labels:
        org.saltext-chain.commit: {{ artifact(chain, dest, 'commit') | json }}
    - push: {{ chain.registry.push | json }}
    - profile: {{ chain.profile | json }}
    - require:
      - test: chain-image-artifact-test-configurable_test_state
{%- endif %}
