#!/bin/sh
# Healthy: git daemon and apache2 answer (git daemon's and smart HTTP's ref advertisement of
# the first git repository, hgweb's capabilities of the first Mercurial repository).
set -e
git=$(echo ${CHAIN_GIT_REPOS:-app} | cut -d' ' -f1)
git ls-remote git://127.0.0.1/$git.git >/dev/null
git ls-remote http://127.0.0.1/git/$git.git >/dev/null
hg=$(echo ${CHAIN_HG_REPOS:-} | cut -d' ' -f1)
[ -z "$hg" ] || python3 -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2).read()" \
  "http://127.0.0.1/hg/$hg?cmd=capabilities"
