# Pillar for the jenkins formula (formulas/jenkins): the controller in a container and this
# minion's agent pools. Secrets (the admin token) belong in an encrypted pillar or SDB.
jenkins:
  # The connection profile the jenkins and jenkins_agent modules use (read with config.get).
  default_profile: ci
  profiles:
    ci:
      url: http://127.0.0.1:8080/
      user: admin
      token: change-me-admin-token        # secret; also the controller's admin token (its one
                                          # place: the controller formula reads it from here)
      timeout: 10
  profile: ci
  controller:
    name: jenkins
    image: saltext-chain/jenkins-emulator:latest
    build: /srv/saltext-chain            # the repository root (images/jenkins-emulator/Dockerfile)
    # production: no build, the official image with plugins baked in by jenkins-plugin-cli
    # image: registry.example.com/ci/jenkins:2.568.2-plugins
    port: 8080
    bind: 127.0.0.1
    # the admin token: profiles:<profile>:token above, written to
    # <secrets_dir>/<name>-admin-token (owner uid/gid, mode 0400) and bind-mounted read-only at
    # admin_token_path; the minion must be the engine's host
    secrets_dir: /etc/saltext-chain/jenkins
    admin_token_path: /run/secrets/jenkins-admin-token
    uid: 1000
    gid: 1000
    plugins:
      git: "5.7.0"
      workflow-job: "1505.vea_4b_20a_4a_495"
  controller_name:             # across hosts (docs/hosts.md): the profile's url names it,
    name: ''                   #   and jenkins.pools writes `ip name` in /etc/hosts first
    ip: ''                     #   ('' = DNS resolves the name: nothing written)
  pools:
    linux:
      image: saltext-chain/jenkins-agent:latest   # production: jenkins/inbound-agent:latest-jdk21
      build: /srv/saltext-chain                   # optional: build the agent image first
      dockerfile: images/jenkins-agent/Dockerfile #   (context, Dockerfile, base_image)
      label: linux docker
      min: 1
      max: 8
      executors: 1
      idle_minutes: 10
      max_uses: 0              # 1 = one build per container, then it is replaced
      connect_timeout: 120
      max_starting: 2
      engine_cap: 20           # agents of every pool on this engine
      container_options:
        network_mode: host     # the emulator is published on 127.0.0.1
    clean-room:
      image: saltext-chain/jenkins-agent:latest
      label: clean-room
      min: 0
      max: 4
      max_uses: 1
      container_options:
        network_mode: host
  reconcile:
    schedule: true
    seconds: 5
