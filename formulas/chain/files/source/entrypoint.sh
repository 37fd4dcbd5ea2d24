#!/bin/bash
# The chain's source server: create the missing repositories (git: bare, branch main; hg: empty),
# make the history only grow (git: no non-fast-forward, no deletion; hg: publishing, nothing
# strips over the web), then serve them with git daemon (port 9418, anonymous clones, pushes
# from the Docker host only) and apache2 (port 80: git smart HTTP and hgweb, pushes with HTTP
# basic auth). Both run as www-data; the container ends when either ends (its restart policy
# brings it back).
#   CHAIN_GIT_REPOS  git repositories (space-separated names), default: app
#   CHAIN_HG_REPOS   Mercurial repositories, default: none
set -eu
mkdir -p /srv/git /srv/hg /run/apache2
chown www-data:www-data /srv/git /srv/hg /run/apache2
as_www() { setpriv --reuid=www-data --regid=www-data --init-groups -- "$@"; }
for repo in ${CHAIN_GIT_REPOS:-app}; do
  dir=/srv/git/$repo.git
  [ -d "$dir" ] || as_www git init -q --bare -b main "$dir"
  # repositories of an older image may be root's
  [ "$(stat -c %U "$dir")" = www-data ] || chown -R www-data:www-data "$dir"
  as_www git -C "$dir" config receive.denyNonFastForwards true
  as_www git -C "$dir" config receive.denyDeletes true
done
for repo in ${CHAIN_HG_REPOS:-}; do
  dir=/srv/hg/$repo
  [ -d "$dir/.hg" ] || as_www hg init "$dir"
done
if ! as_www test -w /srv/spool; then
  echo "chain-source: /srv/spool is not writable by www-data: pushes will not be recorded" >&2
fi
export HOME=/var/www
as_www git daemon --reuseaddr --export-all --informative-errors --base-path=/srv/git \
  --enable=receive-pack --access-hook=/usr/local/lib/chain-source/access_hook.py \
  --listen=0.0.0.0 --port=9418 /srv/git &
/usr/sbin/apache2 -f /etc/chain-source/httpd.conf -DFOREGROUND &
wait -n
echo "chain-source: a server ended; stopping" >&2
exit 1
