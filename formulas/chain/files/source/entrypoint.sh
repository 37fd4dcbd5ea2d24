#!/bin/sh
# Create the missing bare repositories (history only grows: no force push, no deletion), then
# serve /srv/git with git daemon.
set -eu
for repo in ${CHAIN_GIT_REPOS:-app}; do
  dir=/srv/git/$repo.git
  if [ ! -d "$dir" ]; then
    git init -q --bare -b main "$dir"
    git -C "$dir" config receive.denyNonFastForwards true
    git -C "$dir" config receive.denyDeletes true
  fi
done
exec git daemon --reuseaddr --export-all --informative-errors --base-path=/srv/git \
  --enable=receive-pack --access-hook=/usr/local/bin/chain-git-access \
  --listen=0.0.0.0 --port=9418 /srv/git
