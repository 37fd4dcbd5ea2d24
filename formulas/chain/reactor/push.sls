{#- chain/push/source (the source server's minion): the event goes to the runner as data.
    Nothing of the event is rendered into this file but one JSON document, base64-encoded
    (whatever a commit message holds, YAML sees only [A-Za-z0-9+/=]). -#}
chain_push_receive:
  runner.chain_push.receive:
    - args:
      - event: {{ {"tag": tag, "data": data} | json | base64_encode }}
