#!/bin/sh
# Back up an EL6 Lustre server or IML manager the way node_backup.create does on EL7:
# the runbook's manifest in bck-<host>-<UTC timestamp>.tgz (one top directory, files under
# their absolute paths), the CIB (servers) or the IML database (manager), SHA256SUMS and
# backup.json inside, a .sha256 beside it. POSIX shell and coreutils only: EL6 nodes run
# no modern Salt.
#
# usage: node-backup.sh server|manager DEST_DIR MINION_ID
# env:   NODE_BACKUP_ROOT  read the manifest below this root instead of / (tests)
#        CIB_file          passed to cibadmin (Pacemaker's own variable)
# The last line of output is the archive's path.
set -eu
umask 077

kind=${1:?usage: node-backup.sh server|manager DEST_DIR MINION_ID}
dest=${2:?usage: node-backup.sh server|manager DEST_DIR MINION_ID}
minion=${3:?usage: node-backup.sh server|manager DEST_DIR MINION_ID}
root=${NODE_BACKUP_ROOT:-/}

common="var/lib/chroma etc/sysconfig/network etc/sysconfig/network-scripts/ifcfg-* etc/yum.conf
etc/yum.repos.d etc/hosts etc/passwd etc/group etc/shadow etc/gshadow etc/sudoers etc/resolv.conf
etc/nsswitch.conf etc/rsyslog.conf etc/ntp.conf etc/selinux/config"
case $kind in
    server) manifest="$common etc/modprobe.d/iml_lnet_module_parameters.conf etc/corosync/corosync.conf etc/ssh root/.ssh"
            exclude= ;;
    manager) manifest="$common etc/ssh root/.ssh"
             exclude=var/lib/chroma/repo ;;
    *) echo "node-backup.sh: unknown kind '$kind': use server or manager" >&2; exit 2 ;;
esac

host=$(hostname | cut -d. -f1)
stamp=$(date -u +%Y%m%d-%H%M%S)
top="bck-$host-$stamp"
mkdir -p "$dest"
chmod 700 "$dest"
work=$(mktemp -d "$dest/.node-backup.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/$top"

json_string() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}
json_list() {
    sep=
    printf '['
    for item in "$@"; do
        printf '%s%s' "$sep" "$(json_string "$item")"
        sep=', '
    done
    printf ']'
}

cd "$root"
present=
absent=
for pattern in $manifest; do
    matched=
    for path in $pattern; do
        if [ -e "$path" ] || [ -h "$path" ]; then
            present="$present $path"
            matched=1
        fi
    done
    [ -n "$matched" ] || absent="$absent /$pattern"
done

excluded() {
    [ -n "$exclude" ] && case $1 in "$exclude" | "$exclude"/*) return 0 ;; esac
    return 1
}
contents=
for path in $present; do
    for member in $(find "$path" -print | LC_ALL=C sort); do
        excluded "$member" || contents="$contents $member"
    done
done
if [ "$kind" = server ]; then
    extra="cluster-cfg-$host.xml"
    if ! cibadmin --query > "$work/$top/$extra"; then
        echo "node-backup.sh: cibadmin --query failed: a server backup needs the cluster configuration" >&2
        exit 1
    fi
else
    extra="pgbackup-$stamp.sql.gz"
    if ! su - postgres -c "/usr/bin/pg_dumpall --clean" | gzip > "$work/$top/$extra"; then
        echo "node-backup.sh: pg_dumpall --clean failed: a manager backup needs the IML database" >&2
        exit 1
    fi
fi

if [ -n "$contents" ]; then
    # shellcheck disable=SC2086  # word splitting of the path list is intended
    tar cf - --no-recursion $contents | (cd "$work/$top" && tar xpf -)
fi

# shellcheck disable=SC2086
{
    printf '{\n  "format": 1,\n  "kind": %s,\n  "minion": %s,\n' "$(json_string "$kind")" "$(json_string "$minion")"
    printf '  "hostname": %s,\n  "created": %s,\n' "$(json_string "$(hostname)")" "$(json_string "$stamp")"
    printf '  "manifest": %s,\n' "$(json_list $(for p in $manifest; do echo "/$p"; done))"
    printf '  "absent": %s,\n' "$(json_list $absent)"
    printf '  "contents": %s,\n' "$(json_list $(for p in $contents; do echo "/$p"; done))"
    printf '  "extras": %s\n}\n' "$(json_list "$extra")"
} > "$work/$top/backup.json"

(cd "$work/$top" && find . -type f ! -name SHA256SUMS -exec sha256sum {} + | sed 's|  \./|  |' | LC_ALL=C sort -k2 > SHA256SUMS)
(cd "$work" && tar czf "$top.tgz" "$top")
mv "$work/$top.tgz" "$dest/$top.tgz"
(cd "$dest" && sha256sum "$top.tgz" > "$top.tgz.sha256")
echo "$dest/$top.tgz"
