{#- The controller: image (built from images/jenkins-emulator, or pulled), JENKINS_HOME on a
    volume, published on 127.0.0.1 only, healthy, plugins verified. -#}
{%- from tpldir ~ "/map.jinja" import jenkins with context %}
{%- set ctl = jenkins.controller %}
{%- if ctl.enabled %}
jenkins-controller-image:
  container_image.present:
    - name: {{ ctl.image }}
{%-   if ctl.build %}
    - build: {{ ctl.build }}
    - dockerfile: {{ ctl.dockerfile }}
{%-     if ctl.base_image %}
    - base_image: {{ ctl.base_image }}
{%-     endif %}
{%-   endif %}
{%-   if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-   endif %}

jenkins-controller-home:
  container_volume.present:
    - name: {{ ctl.home_volume }}
    - labels: {{ jenkins.formula_label | json }}
{%-   if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-   endif %}

{%-   set env = dict(ctl.environment) %}
{%-   do env.update({'JENKINS_EMULATOR_ADMIN_USER': ctl.admin_user}) %}
{%-   if ctl.admin_token %}
{%-     do env.update({'JENKINS_EMULATOR_ADMIN_TOKEN': ctl.admin_token}) %}
{%-   endif %}

jenkins-controller:
  container.running:
    - name: {{ ctl.name }}
    - image: {{ ctl.image }}
    - binds:
      - {{ ctl.home_volume }}:{{ ctl.home }}
    - ports:
      - {{ ctl.bind }}:{{ ctl.port }}:8080
    - environment: {{ env | json }}
    - labels: {{ jenkins.formula_label | json }}
    - restart_policy: unless-stopped
    - wait_healthy: true
    - health_timeout: {{ ctl.health_timeout }}
{%-   if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-   endif %}
    - require:
      - container_image: jenkins-controller-image
      - container_volume: jenkins-controller-home

{%-   if ctl.plugins %}

jenkins-controller-plugins:
  jenkins_plugin.installed:
    - plugins: {{ ctl.plugins | json }}
{%-     if jenkins.profile %}
    - profile: {{ jenkins.profile }}
{%-     endif %}
    - require:
      - container: jenkins-controller
{%-   endif %}
{%- endif %}
