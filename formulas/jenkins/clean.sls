{#- Remove this minion's pools (their agents drained), the controller container and its admin
    token file; the JENKINS_HOME volume is kept. -#}
{%- from tpldir ~ "/map.jinja" import jenkins with context %}
{%- for name, pool in jenkins.pools | dictsort %}

jenkins-pool-{{ name }}-reconcile-absent:
  schedule.absent:
    - name: jenkins-agent-reconcile-{{ name }}

jenkins-pool-{{ name }}-empty:
  jenkins_agent.pool:
    - name: {{ name }}
    - image: {{ pool.image }}
    - label: {{ pool.label | json }}
    - min: 0
    - max: 0
    - idle_minutes: 0
{%-   if jenkins.profile %}
    - profile: {{ jenkins.profile }}
{%-   endif %}
{%-   if jenkins.engine %}
    - engine: {{ jenkins.engine }}
{%-   endif %}
    - require:
      - schedule: jenkins-pool-{{ name }}-reconcile-absent
{%- endfor %}

jenkins-controller-absent:
  container.absent:
    - name: {{ jenkins.controller.name }}
{%- if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%- endif %}

jenkins-controller-admin-token-absent:
  file.absent:
    - name: {{ jenkins.controller.secrets_dir ~ "/" ~ jenkins.controller.name ~ "-admin-token" }}
    - require:
      - container: jenkins-controller-absent
