{#- The app's pipeline (chain.jobs) run for the exact commit of pillar `chain:ref` on an agent:
    jenkins_build.succeeded with REF=<commit>, so a successful build of that commit already
    there counts as done (no build is started) and a failing one fails the state with the
    console tail. The orchestrate's stage 2. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- from tplroot ~ "/commit.jinja" import resolve with context %}
{%- set commit = resolve(chain) | trim %}

{%- if commit.startswith('!') %}

chain-pipeline-commit-unknown:
  test.fail_without_changes:
    - name: {{ commit[1:] | json }}
{%- else %}

chain-pipeline-jenkins_build-succeeded:
  jenkins_build.succeeded:
    - name: {{ chain.jobs.name }}
    - parameters:
        REF: "{{ commit }}"
    - timeout: {{ chain.jobs.timeout }}
    - profile: {{ chain.jobs.jenkins_profile | json }}
{%- endif %}
