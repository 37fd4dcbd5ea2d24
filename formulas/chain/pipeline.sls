{#- The app's pipeline (chain.jobs) run for the exact commit of pillar `chain:ref` on an agent:
    jenkins_build.succeeded with REF=<commit>, so a successful build of that commit already
    there counts as done (no build is started) and a failing one fails the state with the
    console tail. The orchestrate's stage 2.
    The commit is looked up when the states run (chain_pipeline.resolve through a slot, once per
    run), never while rendering: the first state reports it, or why the ref is unknown. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- from tplroot ~ "/lookups.jinja" import resolved with context %}

chain-pipeline-commit-test-configurable_test_state:
  test.configurable_test_state:
    - name: {{ ('the commit of ' ~ (chain.ref or '')) | json }}
    - changes: false
    - result: {{ resolved(chain, 'result') | json }}
    - comment: {{ resolved(chain, 'comment') | json }}
    - allow_test_mode_failure: true

chain-pipeline-jenkins_build-succeeded:
  jenkins_build.succeeded:
    - name: {{ chain.jobs.name }}
    - parameters:
        REF: {{ resolved(chain, 'commit') | json }}
    - timeout: {{ chain.jobs.timeout }}
    - profile: {{ chain.jobs.jenkins_profile | json }}
    - require:
      - test: chain-pipeline-commit-test-configurable_test_state
