{#- The controller: image (built from images/jenkins-emulator, or pulled), JENKINS_HOME on a
    volume, the admin token in a root-only file bind-mounted read-only (never in the environment,
    the arguments or a state return), published on 127.0.0.1 only, healthy, plugins verified.
    The admin token has one place: the token of the formula's own connection profile,
    pillar jenkins:profiles:<profile>:token (the profile the states talk to the controller with);
    this sls names that key only. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import jenkins with context %}
{%- set ctl = jenkins.controller %}
{%- set token_file = ctl.secrets_dir ~ "/" ~ ctl.name ~ "-admin-token" %}
{%- set profile_name = jenkins.profile or jenkins.get('default_profile') or 'default' %}
{%- set token_key = 'jenkins:profiles:' ~ profile_name ~ ':token' %}
{%- set token = salt['pillar.get'](token_key, none) %}
{%- set has_token = token is not none and (token | string | length) > 0 %}
{%- if ctl.enabled and ctl.get('admin_token') is not none %}

jenkins-controller-admin-token-moved:
  test.fail_without_changes:
    - name: jenkins-controller-admin-token
    - comment: {{ ("pillar jenkins:controller:admin_token is no longer read: the admin token has "
                   ~ "one place, " ~ token_key ~ " (the formula's connection profile)") | json }}
{%- elif ctl.enabled %}
jenkins-controller-image-container_image-present:
  container_image.present:
    - name: {{ ctl.image }}
{%-   if ctl.build %}
    - build: {{ ctl.build }}
    - dockerfile: {{ ctl.dockerfile }}
{%-     if ctl.base_image %}
    - base_image: {{ ctl.base_image }}
{%-     endif %}
    - labels: {{ jenkins.formula_label | json }}
{%-   endif %}
{%-   if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-   endif %}

jenkins-controller-home-container_volume-present:
  container_volume.present:
    - name: {{ ctl.home_volume }}
    - labels: {{ jenkins.formula_label | json }}
{%-   if jenkins.engine %}
    - profile: {{ jenkins.engine }}
{%-   endif %}

{%-   set env = dict(ctl.environment) %}
{%-   do env.update({'JENKINS_EMULATOR_ADMIN_USER': ctl.admin_user}) %}
{%-   if has_token %}
{%-     do env.update({'JENKINS_EMULATOR_ADMIN_TOKEN_FILE': ctl.admin_token_path}) %}

jenkins-controller-secrets-file-directory:
  file.directory:
    - name: {{ ctl.secrets_dir }}
    - mode: "0700"
    - makedirs: true

{#- contents_pillar: the token is read from pillar when the state runs, so it is not in the
    rendered sls either (state.show_sls); show_changes: false keeps it out of the diff. #}
jenkins-controller-admin-token-file-managed:
  file.managed:
    - name: {{ token_file }}
    - contents_pillar: {{ token_key | json }}
    - user: {{ ctl.uid }}
    - group: {{ ctl.gid }}
    - mode: "0400"
    - show_changes: false
    - require:
      - file: jenkins-controller-secrets-file-directory
{%-   endif %}

jenkins-controller-container-running:
  container.running:
    - name: {{ ctl.name }}
    - image: {{ ctl.image }}
    - binds:
      - {{ ctl.home_volume }}:{{ ctl.home }}
{%-   if has_token %}
      - {{ token_file }}:{{ ctl.admin_token_path }}:ro
{%-   endif %}
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
      - container_image: jenkins-controller-image-container_image-present
      - container_volume: jenkins-controller-home-container_volume-present
{%-   if has_token %}
      - file: jenkins-controller-admin-token-file-managed
{%-   endif %}

{%-   if ctl.plugins %}

jenkins-controller-plugins-jenkins_plugin-installed:
  jenkins_plugin.installed:
    - plugins:
{%-     for plugin, minimum in ctl.plugins | dictsort %}
{%-       if minimum %}
      - {{ plugin }}: {{ minimum | string | json }}
{%-       else %}
      - {{ plugin }}
{%-       endif %}
{%-     endfor %}
{%-     if jenkins.profile %}
    - profile: {{ jenkins.profile }}
{%-     endif %}
    - require:
      - container: jenkins-controller-container-running
{%-   endif %}
{%- endif %}
