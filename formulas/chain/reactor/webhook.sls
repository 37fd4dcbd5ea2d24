{#- salt/netapi/hook/chain/push (a forge through salt-api): the event goes to the runner as
    data, where the HMAC over the raw body is checked. Nothing of the event is rendered into
    this file but one JSON document, base64-encoded (YAML sees only [A-Za-z0-9+/=]). -#}
chain_push_receive:
  runner.chain_push.receive:
    - args:
      - event: {{ {"tag": tag, "data": data} | json | base64_encode }}
