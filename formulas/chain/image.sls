{#- The app's server image, built on the build server from the archived artifact of the
    pipeline's successful build of the exact commit of pillar `chain:ref` (chain.pipeline):
    dist/app-<commit>.tar.gz fetched from Jenkins once into the minion's cache and unpacked,
    then built (content-addressed: the same artifact never rebuilds) with APP_VERSION=<ref> and
    APP_COMMIT=<commit>, tagged <registry>/<repository>:<ref>; then tried, and only then pushed.
    Fails, building nothing, when no successful build of that commit exists. The orchestrate's
    stage 3.
    The trial (the dynamic stage, chain_pipeline.trial; pillar chain:app_image:trial): the built
    image runs once on the build server's engine with the production environment, the same
    pillar keys the deploy gives the app servers (chain:service:environment, healthcheck and
    port, without a server's own overrides), its port published on 127.0.0.1 only, under a name
    of its own; it must be healthy within app_image.trial.timeout seconds, answer /health and
    name the commit on /version. It is removed either way. A commit that fails it stops here:
    the state's comment is one line naming the commit and why (the health check's output),
    nothing is pushed, the built image stays on the build server (to look at). An image the
    registry already serves is not tried again.
    The commit, the build and the artifact are looked up when the states run
    (chain_pipeline.artifact through slots, once per run), never while rendering. Under
    test=True the first state says what would be fetched, the trial what it would try, and
    nothing is built, started or written. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain, declared with context %}
{%- from tplroot ~ "/lookups.jinja" import artifact, trial with context %}
{%- set dest = chain.app_image.artifacts or (opts.cachedir ~ '/saltext-chain/' ~ chain.app ~ '-artifacts') %}
{%- set image = chain.registry.address ~ '/' ~ chain.registry.repository ~ ':' ~ chain.ref %}
{%- set tried = chain.app_image.trial.enabled %}

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
    - name: {{ image }}
    - build: {{ artifact(chain, dest, 'context') | json }}
    - base_image: {{ chain.frontend.base_image }}
    - buildargs:
        APP_VERSION: "{{ chain.ref }}"
        APP_COMMIT: {{ artifact(chain, dest, 'commit') | json }}
    - labels:
        org.saltext-chain.commit: {{ artifact(chain, dest, 'commit') | json }}
    - push: {{ (chain.registry.push and not tried) | json }}
    - profile: {{ chain.profile | json }}
    - require:
      - test: chain-image-artifact-test-configurable_test_state
{%- endif %}
{%- if tried %}

chain-image-trial-test-configurable_test_state:
  test.configurable_test_state:
    - name: {{ ('the trial of ' ~ image ~ ' with the production environment') | json }}
    - changes: false
    - result: {{ trial(chain, declared.service, image, 'result') | json }}
    - comment: {{ trial(chain, declared.service, image, 'comment') | json }}
    - allow_test_mode_failure: true
    - require:
      - test: chain-image-artifact-test-configurable_test_state
{%-   if not opts.test %}
      - container_image: chain-image-container_image-present
{%-   endif %}
{%-   if chain.registry.push and not opts.test %}

chain-image-pushed-container_image-present:
  container_image.present:
    - name: {{ image }}
    - pull: never
    - push: true
    - profile: {{ chain.profile | json }}
    - require:
      - test: chain-image-trial-test-configurable_test_state
{%-   endif %}
{%- endif %}
