{#- Jenkins as code through the master: a node, a job from JJB YAML, a build that must pass. #}
{%- set ci = pillar['ci'] %}

ci-node:
  jenkins_node.present:
    - name: {{ ci.node }}
    - labels: [linux, docker]
    - num_executors: 2
    - remote_fs: /home/jenkins/agent
    - web_socket: true

ci-job:
  jenkins_job.present:
    - name: {{ ci.job }}
    - jjb: |
        - job:
            name: {{ ci.job }}
            project-type: freestyle
            node: built-in
            builders:
              - shell: echo "built by salt $BUILD_NUMBER"

ci-build:
  jenkins_build.succeeded:
    - name: {{ ci.job }}
    - timeout: 60
    - require:
      - jenkins_job: ci-job

ci-plugins:
  jenkins_plugin.installed:
    - name: git
    - version: "5.0"
