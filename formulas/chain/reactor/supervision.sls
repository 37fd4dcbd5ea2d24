{#- salt/beacon/<minion>/container_events/<action>/<name> (the container_events beacon): the
    event goes to the team's page (runner chain_page.record) as data. Nothing of the event is
    rendered into this file but one JSON document, base64-encoded (whatever a container's name
    or labels hold, YAML sees only [A-Za-z0-9+/=]), as the push reactors do. -#}
chain_page_record:
  runner.chain_page.record:
    - args:
      - event: {{ {"tag": tag, "data": data} | json | base64_encode }}
