{#- The chain's Jenkins on the build server: the controller in its container and the agent
    pools that run the app's pipeline, from the jenkins formula (formulas/jenkins: pillar
    `jenkins`, see pillar.example/jenkins.sls). Off with chain:jenkins:enabled false (a
    controller and agents managed elsewhere); chain.jobs then only needs the jenkins profile. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import chain with context %}
{%- if chain.jenkins.enabled %}

include:
  - jenkins
{%- endif %}
