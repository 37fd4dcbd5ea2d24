{#- The app's server image, built on the build server from the archived artifact of the
    pipeline's successful build of the exact commit of pillar `chain:ref` (chain.pipeline):
    dist/app-<commit>.tar.gz fetched from Jenkins once into the minion's cache and unpacked,
    then built (content-addressed: the same artifact never rebuilds) with APP_VERSION=<ref> and
    APP_COMMIT=<commit>, tagged <registry>/<repository>:<ref> and pushed. Fails, building
    nothing, when no successful build of that commit exists. The orchestrate's stage 3. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- from tplroot ~ "/commit.jinja" import resolve with context %}
{%- set commit = resolve(chain) | trim %}
{%- set jobs = chain.jobs %}

{%- if commit.startswith('!') %}

chain-image-commit-unknown:
  test.fail_without_changes:
    - name: {{ commit[1:] | json }}
{%- else %}
{%-   set artifacts = chain.app_image.artifacts or (opts.cachedir ~ '/saltext-chain/' ~ chain.app ~ '-artifacts') %}
{%-   set dir = artifacts ~ '/' ~ commit %}
{%-   set tarball = dir ~ '/app-' ~ commit ~ '.tar.gz' %}
{#-   Unpacked already: decided here, not with `creates:` (a creates/unless/onlyif check makes
      Salt 3008 look for `cmd.mod_run_check`, which no state module has: the miss loads every
      state module, seconds on each apply). -#}
{%-   set unpacked = salt['file.file_exists'](dir ~ '/app/Dockerfile') %}
{%-   set fetched = unpacked or salt['file.file_exists'](tarball) %}
{%-   set build = none if fetched else salt['jenkins.last_build_with'](jobs.name, parameters={'REF': commit}, profile=jobs.jenkins_profile) %}
{%-   if not fetched and not (build and build.result == 'SUCCESS') %}

chain-image-build-missing:
  test.fail_without_changes:
    - name: "no successful build of {{ jobs.name }} for commit {{ commit }}{{ ' (the last one: ' ~ build.result ~ ')' if build else '' }}: the pipeline stage (chain.pipeline) runs it"
{%-   else %}

chain-image-artifacts-file-directory:
  file.directory:
    - name: {{ dir }}
    - makedirs: true
    - mode: '0700'
{%-     if not fetched %}

chain-image-artifact-module-run:
  module.run:
    - jenkins.artifact:
      - name: {{ jobs.name }}
      - path: dist/app-{{ commit }}.tar.gz
      - number: {{ build.number }}
      - dest: {{ tarball }}
      - profile: {{ jobs.jenkins_profile | json }}
    - require:
      - file: chain-image-artifacts-file-directory
    - require_in:
      - cmd: chain-image-artifact-cmd-run
{%-     endif %}

{%-     if not unpacked %}

chain-image-artifact-cmd-run:
  cmd.run:
    - name: tar -xzf {{ tarball | quote }} -C {{ dir | quote }}
    - require:
      - file: chain-image-artifacts-file-directory
    - require_in:
      - container_image: chain-image-container_image-present
{%-     endif %}

chain-image-container_image-present:
  container_image.present:
    - name: {{ chain.registry.address }}/{{ chain.registry.repository }}:{{ chain.ref }}
    - build: {{ dir }}/app
    - base_image: {{ chain.frontend.base_image }}
    - buildargs:
        APP_VERSION: "{{ chain.ref }}"
        APP_COMMIT: "{{ commit }}"
    - labels:
        org.saltext-chain.commit: "{{ commit }}"
    - push: {{ chain.registry.push | json }}
    - profile: {{ chain.profile | json }}
    - require:
      - file: chain-image-artifacts-file-directory
{%-   endif %}
{%- endif %}
