demo:
  containers:
    web1-svc0:
      command: sleep 3600
      environment:
        INDEX: '0'
        MINION: web1
      labels:
        saltext-chain.test: '1'
      restart_policy: unless-stopped
    web1-svc1:
      command: sleep 3600
      environment:
        INDEX: '1'
        MINION: web1
      labels:
        saltext-chain.test: '1'
      restart_policy: unless-stopped
    web1-svc2:
      command: sleep 3600
      environment:
        INDEX: '2'
        MINION: web1
      labels:
        saltext-chain.test: '1'
      restart_policy: unless-stopped
    web1-svc3:
      command: sleep 3600
      environment:
        INDEX: '3'
        MINION: web1
      labels:
        saltext-chain.test: '1'
      restart_policy: unless-stopped
    web1-svc4:
      command: sleep 3600
      environment:
        INDEX: '4'
        MINION: web1
      labels:
        saltext-chain.test: '1'
      restart_policy: unless-stopped
    web1-web:
      command: httpd -f -p 8080 -h /tmp
      labels:
        saltext-chain.test: '1'
      ports:
      - 127.0.0.1::8080
