#!/bin/sh
# The registry's htpasswd file on the minion (cmd.script stateful; the password on stdin only).
#   htpasswd.sh FILE USER   < password
# The bcrypt entry (htpasswd -B, apache2-utils) is written only when FILE does not hold exactly
# USER's entry for that password already, so a re-apply changes nothing. Neither the password
# nor the hash is printed. FILE's directory is created mode 0700, FILE is written mode 0600 and
# replaced atomically (the container mounts the directory read-only, so it sees the new file).
set -eu
file=$1 user=$2
command -v htpasswd >/dev/null 2>&1 || { echo "htpasswd not found: install apache2-utils" >&2; exit 1; }
pw=$(cat)
[ -n "$pw" ] || { echo "empty password on stdin" >&2; exit 1; }
umask 077
mkdir -p "$(dirname "$file")"
if [ -s "$file" ] && [ "$(grep -c . "$file")" -eq 1 ] && [ "$(cut -d: -f1 "$file")" = "$user" ] \
  && printf '%s\n' "$pw" | htpasswd -vi "$file" "$user" >/dev/null 2>&1; then
  echo
  echo "changed=no comment='$file holds the entry of $user'"
  exit 0
fi
printf '%s\n' "$pw" | htpasswd -niB "$user" 2>/dev/null | grep . > "$file.tmp"
mv -f "$file.tmp" "$file"
echo
echo "changed=yes comment='$file: bcrypt entry of $user written'"
