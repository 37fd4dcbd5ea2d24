#!/bin/sh
# Seed/update a repository of the source server from a local checkout (cmd.script stateful).
#   seed.sh CHECKOUT PREFIX REV URL BRANCH MIRROR
# PREFIX non-empty: the history of that directory (git subtree split) is served, else REV's.
# MIRROR is a bare repository on this minion the push goes through (the checkout only gains
# objects). The served branch only moves forward: when it already holds the commit (or a
# descendant of it, e.g. a commit pushed to it directly) nothing changes.
set -eu
checkout=$1 prefix=$2 rev=$3 url=$4 branch=$5 mirror=$6
if [ -n "$prefix" ]; then
  sha=$(git -C "$checkout" subtree split -q --prefix="$prefix" "$rev")
else
  sha=$(git -C "$checkout" rev-parse --verify -q "$rev^{commit}")
fi
[ -d "$mirror" ] || git init -q --bare "$mirror"
git -C "$checkout" push -q -f "$mirror" "$sha:refs/heads/seed"
served=""
if git -C "$mirror" fetch -q "$url" "+refs/heads/$branch:refs/remotes/served/$branch" 2>/dev/null; then
  served=$(git -C "$mirror" rev-parse "refs/remotes/served/$branch")
fi
if [ -n "$served" ] && git -C "$mirror" merge-base --is-ancestor "$sha" "$served"; then
  echo
  echo "changed=no comment='$url $branch holds $sha'"
  exit 0
fi
git -C "$mirror" push -q "$url" "$sha:refs/heads/$branch"
echo
echo "changed=yes comment='$url $branch: ${served:-empty} -> $sha'"
