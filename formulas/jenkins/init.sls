{#- The Jenkins controller in a container and this minion's agent pools.
    pillar.example/jenkins.sls shows every key. -#}
include:
  - {{ tpldir }}.controller
  - {{ tpldir }}.pools
