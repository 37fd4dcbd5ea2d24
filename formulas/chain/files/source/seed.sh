#!/bin/sh
# Seed/update a repository of the source server from a local checkout (cmd.script stateful).
#   seed.sh CHECKOUT PREFIX REV URL BRANCH MIRROR
# PREFIX non-empty: the history of that directory (git subtree split) is served, else REV's.
# MIRROR is a bare repository on this minion the push goes through (the checkout only gains
# objects). The served branch only moves forward: when it already holds the commit (or a
# descendant of it, e.g. a commit pushed to it directly) nothing changes.
# A split is cached in MIRROR under refs/chain-split/<key of REV's commit and PREFIX> (the
# split of one commit never changes): an unchanged checkout splits nothing, pushes nothing
# and asks the server only for its branch head (ls-remote); a new commit is split again.
set -eu
checkout=$1 prefix=$2 rev=$3 url=$4 branch=$5 mirror=$6
commit=$(git -C "$checkout" rev-parse --verify -q "$rev^{commit}")
[ -d "$mirror" ] || git init -q --bare "$mirror"
if [ -n "$prefix" ]; then
  key=$(printf '%s %s' "$commit" "$prefix" | git hash-object --stdin)
  cached="refs/chain-split/$key"
  if sha=$(git -C "$mirror" rev-parse --verify -q "$cached^{commit}"); then
    how="split cached"
    git -C "$mirror" update-ref refs/heads/seed "$sha"
  else
    sha=$(git -C "$checkout" subtree split -q --prefix="$prefix" "$commit")
    how="split"
    git -C "$checkout" push -q -f "$mirror" "$sha:refs/heads/seed"
    git -C "$mirror" update-ref "$cached" "$sha"
  fi
else
  sha=$commit how="commit"
  if [ "$(git -C "$mirror" rev-parse --verify -q refs/heads/seed || true)" != "$sha" ]; then
    git -C "$checkout" push -q -f "$mirror" "$sha:refs/heads/seed"
  fi
fi
served=$(git -C "$mirror" ls-remote "$url" "refs/heads/$branch" 2>/dev/null | cut -f1) || served=""
holds=no
if [ -n "$served" ] && [ "$served" = "$sha" ]; then
  holds=yes
elif [ -n "$served" ] \
  && git -C "$mirror" fetch -q "$url" "+refs/heads/$branch:refs/remotes/served/$branch" 2>/dev/null \
  && git -C "$mirror" merge-base --is-ancestor "$sha" "$served"; then
  holds=yes
fi
if [ "$holds" = yes ]; then
  echo
  echo "changed=no comment='$url $branch holds $sha ($how)'"
  exit 0
fi
git -C "$mirror" push -q "$url" "$sha:refs/heads/$branch"
echo
echo "changed=yes comment='$url $branch: ${served:-empty} -> $sha ($how)'"
