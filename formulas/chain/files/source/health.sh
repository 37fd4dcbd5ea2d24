#!/bin/sh
# Healthy: git daemon and apache2 answer (git daemon's and smart HTTP's ref advertisement of
# the first git repository, hgweb's capabilities of the first Mercurial repository).
# hgweb is a CGI program (a Python start, ~100 ms of CPU): once it has answered, later probes
# (every 2 s) leave it out; apache2 answering the git request says the server still serves.
set -e
git=$(echo ${CHAIN_GIT_REPOS:-app} | cut -d' ' -f1)
git ls-remote git://127.0.0.1/$git.git >/dev/null
git ls-remote http://127.0.0.1/git/$git.git >/dev/null
hg=$(echo ${CHAIN_HG_REPOS:-} | cut -d' ' -f1)
seen=/run/chain-source-hgweb-answered
if [ -n "$hg" ] && [ ! -e "$seen" ]; then
  python3 -I -S -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2).read()" \
    "http://127.0.0.1/hg/$hg?cmd=capabilities"
  touch "$seen"
fi
