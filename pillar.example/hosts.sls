# The chain across hosts (`make chain HOSTS=N`, docs/hosts.md): the first N minions below run as
# Docker-in-Docker hosts on this machine (scripts/chain_hosts.py), each with its own Docker
# engine and salt-minion, minions of the chain's master. The topology is pillar: the ids, their
# roles and the rollout order are read from here (make chain copies this file into the master's
# pillar as `hosts.sls`, for every minion).
chain:
  hosts:
    host1:
      roles: [build]           # a build host: agents of the controller
    host2:
      roles: [app]             # an app server: the app's replicas behind a frontend
    host3:
      roles: [app]
    host4:
      roles: [app]
  rollout_order: [host2, host3, host4]
