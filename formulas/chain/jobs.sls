{#- The app's pipeline as Jenkins Job Builder YAML on the controller (jenkins_job.present):
    a freestyle job with parameter REF that runs on the pool label:
      1. checkout: git clone of the source server's URL, git checkout REF (a shell step: the
         agent image needs git, not the git plugin);
      2. unit tests: python3 -m unittest discover -s tests;
      3. static check: python3 -m py_compile on every .py file (pyflakes too when installed);
      4. the artifact: git archive of the commit as dist/app-<commit>.tar.gz and
         dist/commit.txt, archived only when every step passed.
    A failing step fails the build; jenkins_build.succeeded reports its console tail. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- set jobs = chain.jobs %}
{#- With chain.jenkins on, the controller (the jenkins formula's sls jenkins.controller, on unless
    its pillar jenkins:controller:enabled is false) comes first in the same run. #}
{%- set controller = chain.jenkins.enabled and salt['pillar.get']('jenkins:controller:enabled', True) %}
{%- if chain.jenkins.enabled %}

include:
  - {{ tplroot }}.jenkins
{%- endif %}
{%- set git_url = jobs.git_url or ('git://' ~ chain.source.name ~ ':9418/' ~ chain.source.repo ~ '.git') %}

chain-jobs-pipeline-jenkins_job-present:
  jenkins_job.present:
    - name: {{ jobs.name }}
    - profile: {{ jobs.jenkins_profile | json }}
    - jjb: |
        - job:
            name: {{ jobs.name | json }}
            project-type: freestyle
            description: "The app's pipeline (formulas/chain/jobs.sls): checkout, unit tests, static check, artifact."
            node: {{ jobs.label | json }}
            concurrent: false
            parameters:
              - string:
                  name: REF
                  default: {{ jobs.default_ref | json }}
                  description: "Branch, tag or commit of the app's repository to build."
              - string:
                  name: GIT_URL
                  default: {{ git_url | json }}
                  description: "The app's repository (the chain's source server)."
            builders:
              - shell: |
                  # checkout
                  rm -rf src dist
                  git clone -q "$GIT_URL" src
                  commit=$(git -C src rev-parse -q --verify "origin/$REF^0" || git -C src rev-parse --verify "$REF^0")
                  git -C src -c advice.detachedHead=false checkout -q --detach "$commit"
                  echo "$commit" > commit.txt
                  echo "commit $(cat commit.txt)"
              - shell: |
                  # unit tests
                  cd src
                  python3 -m unittest discover -s tests -v
              - shell: |
                  # static check
                  cd src
                  find . -name '*.py' -not -path './.git/*' -print0 | xargs -0 -r python3 -m py_compile
                  if python3 -m pyflakes --version >/dev/null 2>&1; then python3 -m pyflakes .; fi
              - shell: |
                  # artifact
                  mkdir -p dist
                  commit=$(cat commit.txt)
                  git -C src archive --format=tar.gz --prefix=app/ -o "../dist/app-$commit.tar.gz" HEAD
                  cp commit.txt dist/commit.txt
            publishers:
              - archive:
                  artifacts: "dist/*"
                  allow-empty: false
                  only-if-success: true
{%- if controller %}
    - require:
      - sls: jenkins.controller
{%- endif %}
