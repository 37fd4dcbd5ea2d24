{#- The app's pipeline as Jenkins Job Builder YAML on the controller (jenkins_job.present):
    a freestyle job that runs on the pool label, with parameters REF (branch, tag or commit),
    VCS (git or hg) and REPO_URL (the repository; empty with git: GIT_URL, kept for the pillar
    and callers of before):
      1. checkout: git clone + checkout of REF, or hg clone + hg update -r REF (shell steps:
         the agent image needs git and hg, no SCM plugin); the exact commit in commit.txt;
      2. unit tests: python3 -m pytest under python3 -m coverage run, the JUnit report in
         dist/junit.xml and coverage.py's JSON report in dist/coverage.json (both written even
         when a test fails);
      3. static analysis: pyflakes over the tree; a finding fails the build;
      4. the artifact: the commit's tree (git archive / hg archive) as dist/app-<commit>.tar.gz
         and dist/commit.txt (chain.image builds the server image from it);
      5. docs: pydoc HTML of the app's modules and its README as HTML in dist/docs/;
      6. packaging: the sdist and the wheel of the app (setuptools' PEP 517 backend, offline)
         in dist/, built from the artifact's tree.
    Everything under dist/ is archived, a failed build's too (its test report); only a
    successful build has the artifact and the packages, and chain.image takes only a successful
    build's. A failing step fails the build; jenkins_build.succeeded reports its console tail.
    Artifact names: /work/issue16-design.md (docs/chain.md, "The pipeline"). -#}
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
            description: "The app's pipeline (formulas/chain/jobs.sls): checkout (git or hg), unit tests with JUnit report and coverage, static analysis, artifact, docs, sdist and wheel."
            node: {{ jobs.label | json }}
            concurrent: false
            parameters:
              - string:
                  name: REF
                  default: {{ jobs.default_ref | json }}
                  description: "Branch, tag or commit of the app's repository to build."
              - choice:
                  name: VCS
                  choices: [git, hg]
                  description: "The repository's version control system."
              - string:
                  name: REPO_URL
                  default: ""
                  description: "The app's repository (empty with git: GIT_URL)."
              - string:
                  name: GIT_URL
                  default: {{ git_url | json }}
                  description: "The app's git repository when REPO_URL is empty (the chain's source server)."
            builders:
              - shell: |
                  # checkout
                  rm -rf src dist pkg .coverage commit.txt
                  case "$VCS" in
                    git)
                      url=$REPO_URL
                      [ -n "$url" ] || url=$GIT_URL
                      git clone -q "$url" src
                      commit=$(git -C src rev-parse -q --verify "origin/$REF^0" || git -C src rev-parse --verify "$REF^0")
                      git -C src -c advice.detachedHead=false checkout -q --detach "$commit"
                      ;;
                    hg)
                      if [ -z "$REPO_URL" ]; then echo "REPO_URL: the Mercurial repository to build" >&2; exit 2; fi
                      hg clone -q -U "$REPO_URL" src
                      hg -R src update -q -r "$REF"
                      commit=$(hg -R src log -r . -Tjson | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["node"])')
                      ;;
                    *)
                      echo "VCS must be git or hg, not '$VCS'" >&2
                      exit 2
                      ;;
                  esac
                  echo "$commit" > commit.txt
                  echo "commit $(cat commit.txt)"
              - shell: |
                  # unit tests (JUnit report) under coverage (the metric)
                  mkdir -p dist
                  cd src
                  export PYTHONDONTWRITEBYTECODE=1 COVERAGE_FILE="$WORKSPACE/.coverage"
                  code=0
                  python3 -m coverage run -m pytest -p no:cacheprovider --junitxml="$WORKSPACE/dist/junit.xml" || code=$?
                  python3 -m coverage json -o "$WORKSPACE/dist/coverage.json"
                  python3 -m coverage report
                  exit $code
              - shell: |
                  # static analysis
                  cd src
                  python3 -m pyflakes .
                  echo "pyflakes: no findings"
              - shell: |
                  # artifact
                  commit=$(cat commit.txt)
                  case "$VCS" in
                    hg) hg -R src --config ui.archivemeta=false archive -t tgz -p app -r "$commit" "dist/app-$commit.tar.gz" ;;
                    *) git -C src archive --format=tar.gz --prefix=app/ -o "../dist/app-$commit.tar.gz" HEAD ;;
                  esac
                  cp commit.txt dist/commit.txt
                  mkdir pkg
                  tar -xzf "dist/app-$commit.tar.gz" -C pkg
              - shell: |
                  # docs: pydoc HTML of the app's modules, its README as HTML
                  mkdir -p dist/docs
                  cd pkg/app
                  PYTHONDONTWRITEBYTECODE=1 python3 - "$WORKSPACE/dist/docs" <<'PY'
                  import html, os, pathlib, pydoc, re, sys
                  out = pathlib.Path(sys.argv[1])
                  here = pathlib.Path.cwd()
                  sys.path.insert(0, str(here))
                  names = sorted(p.stem for p in here.glob("*.py") if p.stem != "setup")
                  os.chdir(out)
                  for name in names:
                      pydoc.writedoc(name)
                      if not (out / (name + ".html")).is_file():
                          sys.exit("docs: pydoc could not document " + name)
                  def inline(text):
                      return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
                  body, items = [], []
                  for line in (here / "README.md").read_text().splitlines():
                      if line.startswith("- "):
                          items.append("<li>" + inline(line[2:]) + "</li>")
                          continue
                      if items:
                          body.append("<ul>" + "".join(items) + "</ul>")
                          items = []
                      heading = re.match(r"(#+) (.*)", line)
                      if heading:
                          level = min(len(heading.group(1)), 6)
                          body.append("<h%d>%s</h%d>" % (level, inline(heading.group(2)), level))
                      elif line.strip():
                          body.append("<p>" + inline(line) + "</p>")
                  if items:
                      body.append("<ul>" + "".join(items) + "</ul>")
                  links = "".join('<li><a href="%s.html">%s</a></li>' % (n, n) for n in names)
                  page = "<!doctype html><meta charset=utf-8><title>app docs</title>"
                  page += "".join(body) + "<h2>Modules</h2><ul>" + links + "</ul>"
                  (out / "index.html").write_text(page)
                  print("docs: index.html and " + ", ".join(n + ".html" for n in names))
                  PY
              - shell: |
                  # packaging: the sdist and the wheel (setuptools' PEP 517 backend, offline)
                  cd pkg/app
                  PYTHONDONTWRITEBYTECODE=1 python3 -c 'import sys, setuptools.build_meta as b; out = sys.argv[1]; print(b.build_sdist(out)); print(b.build_wheel(out))' "$WORKSPACE/dist"
                  ls "$WORKSPACE/dist"
            publishers:
              - archive:
                  artifacts: "dist/**"
                  allow-empty: false
                  only-if-success: false
{%- if controller %}
    - require:
      - sls: jenkins.controller
{%- endif %}
