{#- The container_events beacon's deaths, OOM kills and health changes, for the team's page.
    The event goes to the runner as data (`| json`); no value of it is rendered anywhere
    else, so a container name or label cannot add a reaction.
    Master config: reactor: [{'salt/beacon/*/container_events/*': [salt://chain/reactor/supervision.sls]}] #}
chain-page-supervision:
  runner.chain_page.record:
    - args:
      - event: {{ {"tag": tag, "data": data} | json }}
