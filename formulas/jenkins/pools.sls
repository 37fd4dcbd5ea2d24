{#- This minion's agent pools (jenkins_agent.pool), and a schedule that reconciles them every
    few seconds between highstates (a queued build gets an agent without a highstate). A pool
    with `build` (a context: salt:// or a local path; `dockerfile`, `base_image`) builds its
    agent image first (container_image.present, content-addressed). With
    jenkins:controller_name (name and ip), the controller's name goes into this minion's
    /etc/hosts first: the minion and its agents (network_mode: host) reach it by that name. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import jenkins with context %}
{%- set named = jenkins.controller_name %}
{%- if named.name and named.ip %}

jenkins-pools-controller-name-host-present:
  host.present:
    - name: {{ named.name | json }}
    - ip: {{ named.ip | json }}
{%- endif %}
{%- for name, pool in jenkins.pools | dictsort %}
{%-   set pool = dict(pool or {}) %}
{%-   set image = pool.pop('image') %}
{%-   set build = pool.pop('build', None) %}
{%-   set dockerfile = pool.pop('dockerfile', None) %}
{%-   set base_image = pool.pop('base_image', None) %}
{%-   if build %}

jenkins-pools-{{ name }}-image-container_image-present:
  container_image.present:
    - name: {{ image }}
    - build: {{ build }}
{%-     if dockerfile %}
    - dockerfile: {{ dockerfile }}
{%-     endif %}
{%-     if base_image %}
    - base_image: {{ base_image }}
{%-     endif %}
    - labels: {{ jenkins.formula_label | json }}
{%-     if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-     endif %}
    - require_in:
      - jenkins_agent: jenkins-pools-{{ name }}-jenkins_agent-pool
{%-   endif %}

jenkins-pools-{{ name }}-jenkins_agent-pool:
  jenkins_agent.pool:
    - name: {{ name }}
    - image: {{ image }}
{%-   if jenkins.profile %}
    - profile: {{ jenkins.profile }}
{%-   endif %}
{%-   if jenkins.engine %}
    - engine: {{ jenkins.engine }}
{%-   endif %}
{%-   for key, value in pool | dictsort %}
    - {{ key }}: {{ value | json }}
{%-   endfor %}
{%-   if jenkins.controller.enabled or (named.name and named.ip) %}
    - require:
{%-     if jenkins.controller.enabled %}
      - sls: {{ tplroot }}.controller
{%-     endif %}
{%-     if named.name and named.ip %}
      - host: jenkins-pools-controller-name-host-present
{%-     endif %}
{%-   endif %}

{%-   set kwargs = dict(pool) %}
{%-   do kwargs.pop('wait', None) %}
{%-   do kwargs.update({'profile': jenkins.profile, 'engine': jenkins.engine}) %}

jenkins-pools-{{ name }}-reconcile-schedule:
{%-   if jenkins.reconcile.schedule %}
  schedule.present:
    - name: jenkins-agent-reconcile-{{ name }}
    - function: jenkins_agent.reconcile
    - job_args: [{{ name | json }}, {{ image | json }}]
    - job_kwargs: {{ kwargs | json }}
    - seconds: {{ jenkins.reconcile.seconds }}
    - maxrunning: 1
    - return_job: false
    - persist: true
    - require:
      - jenkins_agent: jenkins-pools-{{ name }}-jenkins_agent-pool
{%-   else %}
  schedule.absent:
    - name: jenkins-agent-reconcile-{{ name }}
{%-   endif %}
{%- endfor %}
