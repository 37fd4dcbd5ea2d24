{#- Remove this minion's pools (their agents drained), the controller container and its admin
    token file; the JENKINS_HOME volume is kept. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import jenkins with context %}
{%- for name, pool in jenkins.pools | dictsort %}

jenkins-clean-{{ name }}-reconcile-schedule-absent:
  schedule.absent:
    - name: jenkins-agent-reconcile-{{ name }}

jenkins-clean-{{ name }}-jenkins_agent-pool:
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
      - schedule: jenkins-clean-{{ name }}-reconcile-schedule-absent
{%- endfor %}

jenkins-clean-controller-container-absent:
  container.absent:
    - name: {{ jenkins.controller.name }}
{%- if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%- endif %}

jenkins-clean-admin-token-file-absent:
  file.absent:
    - name: {{ jenkins.controller.secrets_dir ~ "/" ~ jenkins.controller.name ~ "-admin-token" }}
    - require:
      - container: jenkins-clean-controller-container-absent
