# Pillar for formulas/chain (every key is optional; defaults in formulas/chain/defaults.yaml).
# The image to deploy is not set here: `salt-run chain.rollout app IMAGE` passes chain:image.
chain:
  app: app
  # The orchestrate (salt-run state.orchestrate chain pillar='{"chain": {"ref": "main"}}'):
  # the ref is a branch or tag of the source server, or a full commit id (the image tag).
  build_target: build1         # registry, source server, pipeline job, image build
  targets: [web1, web2]        # the app servers, in rollout order
  per_minion: false            # true when several app servers share one Docker engine
  labels:
    org.saltext-chain.formula: chain
  registry:
    address: 127.0.0.1:5050    # where the app image is pushed: the registry below
    repository: chain/app
    server:                    # formulas/chain/registry.sls
      name: chain-registry
      bind: 127.0.0.1          # loopback only
      port: 5050               # 5000 is bootstrap's CI registry
      volume: chain-registry-data
      # its user and password: container:registries:<address> below (one place); the minion
      # writes the bcrypt htpasswd entry, the container only gets that file (read-only)
    # TLS by name (docs/certificates.md): enabled, the address is name:port (e.g.
    # registry.chain.internal:5050), server:bind and tls:ip an address of the host outside
    # loopback (Docker verifies no certificate in 127.0.0.0/8), and the CA's minion needs the
    # signing policy x509_signing_policies:<signing_policy> below; the master, the peer right.
    tls:
      enabled: false
      ip: ''                   # /etc/hosts: the address's name -> ip ('' = DNS resolves it)
      ca_server: build1        # the CA's minion: chain.ca makes the key there, it stays there
      signing_policy: chain-registry
      ca: {cn: saltext-chain CA, days_valid: 3650, days_remaining: 90}
      cert: {days_valid: 30, days_remaining: 7}   # renewed by the apply once < 7 days are left
      certs_d: /etc/docker/certs.d                 # where each engine reads <address>/ca.crt
  network:
    name: chain
    subnet: ''                 # empty: the engine picks; per server under servers:<id>:network
  jenkins:                     # formulas/chain/jenkins.sls: the build server's controller and
    enabled: true              # agent pools (the jenkins formula, pillar.example/jenkins.sls)
  source:                      # formulas/chain/source.sls: git daemon on the chain network
    name: chain-source         # agents clone git://chain-source:9418/app.git
    port: 9419                 # published on 127.0.0.1 only; pushes only from the Docker host
    http_port: 9420            # git smart HTTP /git/<repo>.git and hgweb /hg/<repo>, on 127.0.0.1
    users:                     # who may push over HTTP (bcrypt htpasswd on the minion): secrets
      alice: change-me
    repo: app
    branch: main
    checkout: /srv/saltext-chain   # the project checkout on the build server
    prefix: examples/app       # its directory served as the app's repository
  jobs:                        # formulas/chain/jobs.sls: the app's pipeline (JJB)
    name: app-pipeline
    label: linux               # the pool label its builds run on
    git_url: ''                # empty: git://<source.name>:9418/<source.repo>.git
    default_ref: main
    timeout: 600               # seconds for one pipeline build (formulas/chain/pipeline.sls)
  frontend:
    name: chain-frontend
    image: saltext-chain/haproxy:1
    build: ''                  # e.g. salt://images/haproxy to build it on the server
    bind: 127.0.0.1
    port: 8080
    slots: 16                  # at least twice the replicas
  service:
    name: app
    replicas: 2
    port: 8000
    environment:
      APP_ENV: production
    update:
      parallelism: 1
      monitor: 4               # at least retries x (interval + timeout) of the health check
      failure_action: rollback
      order: start-first
  servers:                     # per-minion overrides
    web2:
      frontend:
        port: 8081

# The chain registry's user (chain:registry:address): its push and pull credentials on the
# build server and the app servers, and the registry's own htpasswd user on the build server
# (formulas/chain/registry.sls). The orchestrate passes no secret along; every minion reads its
# own pillar.
container:
  registries:
    127.0.0.1:5050:
      username: chain
      password: CHANGE-ME      # secret (or an sdb:// reference rendered by your pillar)

# The CA's signing policy, in the CA minion's pillar only (chain:registry:tls:ca_server): the one
# place of the CA's key and certificate paths (chain.ca makes them there). The master allows the
# signing requests: peer: {'.*': ['x509\.sign_remote_certificate']} (docs/certificates.md).
x509_signing_policies:
  chain-registry:
    - minions: '*'
    - signing_private_key: /etc/pki/saltext-chain/ca/ca.key
    - signing_cert: /etc/pki/saltext-chain/ca/ca.crt
    - basicConstraints: "critical, CA:false"
    - keyUsage: "critical, digitalSignature, keyEncipherment"
    - extendedKeyUsage: serverAuth
    - days_valid: 30
