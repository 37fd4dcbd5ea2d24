# The chain across hosts (`make chain HOSTS=N`, docs/hosts.md): the first N minions below run as
# Docker-in-Docker hosts on this machine (scripts/chain_hosts.py), each with its own Docker
# engine and salt-minion, minions of the chain's master. The topology is pillar: the ids, their
# roles and the rollout order are read from here (make chain copies this file into the master's
# pillar as `hosts.sls`, for every minion). Its own key: the chain formula's pillar (`chain`)
# takes only the keys it knows. make chain makes the hosts of role app the chain's app servers
# (chain:targets, in rollout_order: the first is the canary) and serves the registry to them
# by the name below, with TLS (chain:registry:address <name>:5050, the CA on build1).
topology:
  hosts:
    host1:
      roles: [build, app]      # what the host is for: build (agents), app (the app's replicas)
    host2:
      roles: [app]
    host3:
      roles: [app]
    host4:
      roles: [app]
  rollout_order: [host2, host3, host4, host1]
  registry:
    name: registry.chain.internal   # every host resolves it (/etc/hosts, chain.registry_trust)
