{#- The push queue's integration tests run this instead of the whole chain (per-repo
    chain:push:repos:<repo>:orchestrate): one stage with its events, a pause, then the ref
    appended to <master cachedir>/pushq-runs.log. A ref starting with "dead" fails; one
    starting with "5107" sleeps 8 s (the restart test stops the master during it). -#}
{%- set chain = pillar.get("chain", {}) %}
{%- set rid = chain.get("run_id", "none") %}
pushq_stage_start:
  salt.runner:
    - name: event.send
    - tag: chain/run/{{ rid }}/stage/pipeline/start
    - data: {}

pushq_pause:
  salt.runner:
    - name: test.sleep
    - s_time: {{ 8 if chain.get("ref", "").startswith("5107") else 1 }}
    - require:
      - salt: pushq_stage_start

pushq_ran:
  file.append:
    - name: {{ opts.cachedir }}/pushq-runs.log
    - text: "{{ rid }} {{ chain.get('ref') }} {{ chain.get('deploy') }}"
    - require:
      - salt: pushq_pause

{%- if chain.get("ref", "").startswith("dead") %}
pushq_fails:
  test.fail_without_changes:
    - name: the commit is broken
    - require:
      - file: pushq_ran
{%- endif %}

pushq_stage_done:
  salt.runner:
    - name: event.send
    - tag: chain/run/{{ rid }}/stage/pipeline/done
    - data: {result: true, comment: "one stage"}
    - require:
      - file: pushq_ran
