{#- test_chain_push_forward.py: holds the reactor's only worker thread (reactor_worker_threads:
    1) so that the reactions fired after it wait in the reactor's memory, as they do behind any
    slow reaction; a master restart then loses them. -#}
pushfwd_block:
  runner.test.sleep:
    - args:
      - s_time: 120
