{#- The Jenkins controller in a container and this minion's agent pools.
    pillar.example/jenkins.sls shows every key. -#}
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.controller
  - {{ tplroot }}.pools
