base:
  '*':
    - registry
  'build1':
    - build1
  'web1':
    - web1
  'master-chain':
    - push_master
