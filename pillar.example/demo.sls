# Pillar for the demo formula (formulas/demo): a few containers on every minion's own engine.
demo:
  containers:
    hello-web:
      command: sh -c 'echo "hello from $(hostname)" > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'
      ports:
        - 127.0.0.1::8080
      restart_policy: unless-stopped
      healthcheck:
        test: wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1
        interval: 1s
        retries: 5
      wait_healthy: true
      health_timeout: 30
    worker:
      command: sh -c 'while true; do date; sleep 30; done'
      environment:
        ROLE: worker
      memory: 32m
      restart_policy: unless-stopped
    cache:
      command: sleep 86400
      labels:
        tier: cache
