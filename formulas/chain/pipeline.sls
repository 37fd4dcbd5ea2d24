{#- The app's pipeline (chain.jobs) run for the exact commit of pillar `chain:ref` on an agent:
    jenkins_build.succeeded with REF=<commit>, VCS and REPO_URL, so a successful build of that
    commit already there counts as done (no build is started) and a failing one fails the
    state with the console tail. The orchestrate's stage 2.
    Pillar `chain:vcs` (git | hg, default git) and `chain:repo` (the repository on the source
    server, default `chain:source:repo`) choose the repository; REPO_URL is how the agents
    reach it: git: `chain:jobs:git_url` or git://<source.name>:9418/<repo>.git on the chain
    network; hg: `chain:jobs:hg_url` (a template: {repo} is replaced) or
    http://<source.name>/hg/<repo> (the source server's hgweb).
    The commit is looked up when the states run (chain_pipeline.resolve through a slot, once per
    run), never while rendering: the first state reports it, or why the ref is unknown. A full
    commit id (40 hex: a git sha1 or an hg node) is built as it is, never looked up. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- from tplroot ~ "/lookups.jinja" import resolved with context %}
{%- set vcs = chain.get('vcs') or 'git' %}
{%- set repo = chain.get('repo') or chain.source.repo %}
{%- if vcs == 'hg' %}
{%-   set repo_url = (chain.jobs.get('hg_url') or ('http://' ~ chain.source.name ~ '/hg/{repo}')).replace('{repo}', repo) %}
{%- else %}
{%-   set repo_url = chain.jobs.git_url or ('git://' ~ chain.source.name ~ ':9418/' ~ repo ~ '.git') %}
{%- endif %}

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
        VCS: {{ vcs | json }}
        REPO_URL: {{ repo_url | json }}
    - timeout: {{ chain.jobs.timeout }}
    - profile: {{ chain.jobs.jenkins_profile | json }}
    - require:
      - test: chain-pipeline-commit-test-configurable_test_state
