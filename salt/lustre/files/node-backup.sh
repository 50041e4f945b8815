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
#        PGHOST, PGPORT    where pg_dumpall finds the IML database (default: its own)
# The last line of output is the archive's path.
#
# POSIX sh has no pipefail: no stage is piped into another. Each one writes a file in the
# work directory and its exit status is checked before the next stage reads that file;
# lists of paths are files with one path a line, never word-split. The first failure
# removes the work directory and leaves no archive behind.
set -eu
umask 077

usage="usage: node-backup.sh server|manager DEST_DIR MINION_ID"
kind=${1:?$usage}
dest=${2:?$usage}
minion=${3:?$usage}
root=${NODE_BACKUP_ROOT:-/}
nl='
'
tab=$(printf '\t')

fail() {
    echo "node-backup.sh: $*" >&2
    exit 1
}

common="var/lib/chroma etc/sysconfig/network etc/sysconfig/network-scripts/ifcfg-* etc/yum.conf
etc/yum.repos.d etc/hosts etc/passwd etc/group etc/shadow etc/gshadow etc/sudoers etc/resolv.conf
etc/nsswitch.conf etc/rsyslog.conf etc/ntp.conf etc/selinux/config"
case $kind in
    server) manifest="$common etc/modprobe.d/iml_lnet_module_parameters.conf etc/corosync/corosync.conf etc/ssh root/.ssh etc/hostid"
            exclude= ;;
    manager) manifest="$common etc/ssh root/.ssh"
             exclude=var/lib/chroma/repo ;;
    *) echo "node-backup.sh: unknown kind '$kind': use server or manager" >&2; exit 2 ;;
esac

host=$(hostname) || fail "hostname failed"
fqdn=$host
host=${host%%.*}
[ -n "$host" ] || fail "hostname is empty: set the node's host name first"
stamp=$(date -u +%Y%m%d-%H%M%S) || fail "date failed"
top="bck-$host-$stamp"
mkdir -p -- "$dest" || fail "cannot create $dest"
chmod 700 -- "$dest" || fail "cannot make $dest root-only"
work=$(mktemp -d "$dest/.node-backup.XXXXXX") || fail "cannot create a work directory in $dest"
trap 'rm -rf -- "$work"' EXIT
trap 'exit 1' HUP INT TERM
mkdir -- "$work/$top"

# The lines of FILE as a JSON list of strings, each prefixed with PREFIX.
json_list_file() {
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$tab/\\\\t/g" "$1" > "$1.json" || return 1
    sep=
    printf '['
    while IFS= read -r item; do
        printf '%s"%s%s"' "$sep" "$2" "$item"
        sep=', '
    done < "$1.json"
    printf ']'
}
json_string() {
    printf '%s\n' "$1" > "$work/string"
    json_list_file "$work/string" "" > "$work/string.list" || return 1
    sed -e 's/^\[//' -e 's/\]$//' "$work/string.list"
}

# The manifest's patterns (fixed, without blanks), expanded below the root: split with
# globbing off, each pattern then globbed alone (a match may hold blanks).
set -f
for pattern in $manifest; do printf '%s\n' "$pattern"; done > "$work/manifest"
set +f
cd -- "$root" || fail "cannot enter $root"
: > "$work/present"
: > "$work/absent"
while IFS= read -r pattern; do
    matched=
    for path in $pattern; do
        if [ -e "$path" ] || [ -h "$path" ]; then
            case $path in *"$nl"*) fail "$root/$path: a file name with a newline cannot be listed" ;; esac
            printf '%s\n' "$path" >> "$work/present"
            matched=1
        fi
    done
    [ -n "$matched" ] || printf '/%s\n' "$pattern" >> "$work/absent"
done < "$work/manifest"

excluded() {
    [ -n "$exclude" ] && case $1 in "$exclude" | "$exclude"/*) return 0 ;; esac
    return 1
}
: > "$work/contents"
while IFS= read -r path; do
    find "$path" -name "*$nl*" > "$work/odd" || fail "find $root/$path failed"
    [ ! -s "$work/odd" ] || fail "$root/$(head -n 1 "$work/odd"): a file name with a newline cannot be listed"
    find "$path" -print > "$work/found" || fail "find $root/$path failed"
    LC_ALL=C sort "$work/found" > "$work/found.sorted" || fail "sort failed"
    while IFS= read -r member; do
        excluded "$member" || printf '%s\n' "$member" >> "$work/contents"
    done < "$work/found.sorted"
done < "$work/present"

if [ "$kind" = server ]; then
    extra="cluster-cfg-$host.xml"
    if ! cibadmin --query > "$work/$top/$extra"; then
        fail "cibadmin --query failed: a server backup needs the cluster configuration; check that Pacemaker runs on this node (crm_mon -1)"
    fi
    grep -q '<cib' "$work/$top/$extra" ||
        fail "cibadmin --query returned no CIB: a server backup needs the cluster configuration"
else
    extra="pgbackup-$stamp.sql.gz"
    dump="$work/pgbackup.sql"
    pg_dumpall=$(command -v pg_dumpall) ||
        fail "pg_dumpall --clean failed: pg_dumpall is not on PATH; a manager backup needs the IML database"
    status=0
    if [ "$(id -un)" = postgres ]; then
        "$pg_dumpall" --clean ${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} > "$dump" || status=$?
    else
        # As the runbook: su - postgres. The login resets the environment, so the program's
        # path and the server's host and port travel as arguments, never inside the string.
        # shellcheck disable=SC2016  # expanded by postgres's shell
        su - postgres -c 'exec "$0" --clean ${1:+-h "$1"} ${2:+-p "$2"}' \
            "$pg_dumpall" "${PGHOST:-}" "${PGPORT:-}" > "$dump" || status=$?
    fi
    [ "$status" -eq 0 ] ||
        fail "pg_dumpall --clean failed (exit $status): a manager backup needs the IML database; check that PostgreSQL runs (service postgresql status)"
    [ -s "$dump" ] ||
        fail "pg_dumpall --clean wrote nothing: the dump is empty; check the IML database (service postgresql status)"
    tail -n 4 "$dump" > "$work/dump.tail" || fail "tail of the database dump failed"
    grep -qx -e '-- PostgreSQL database cluster dump complete' "$work/dump.tail" ||
        fail "pg_dumpall --clean output stops before its end ('PostgreSQL database cluster dump complete' missing): the dump is truncated; take the backup again"
    gzip -c "$dump" > "$work/$top/$extra" || fail "gzip of the database dump failed"
    gzip -t "$work/$top/$extra" || fail "the compressed database dump does not read back"
    rm -f -- "$dump"
fi

if [ -s "$work/contents" ]; then
    # GNU tar exits 1 when a file changed while read, 2 when one could not be read: both
    # leave an archive that is not the node's configuration.
    tar cf "$work/members.tar" --no-recursion --no-unquote -T "$work/contents" ||
        fail "tar of the listed files failed (exit $?): see tar's message above; take the backup again"
    (cd -- "$work/$top" && tar xpf "$work/members.tar") ||
        fail "unpacking the listed files into the work directory failed (exit $?)"
    rm -f -- "$work/members.tar"
fi

# The hostid ZFS pools were imported under: /etc/hostid (4 bytes, host byte order), else
# what hostid prints (glibc derives it from the host's address).
hostid_line=
if [ "$kind" = server ]; then
    if [ -f etc/hostid ]; then
        [ "$(wc -c < etc/hostid)" -eq 4 ] || fail "$root/etc/hostid is not 4 bytes: repair it before the backup"
        hid=$(od -An -tx4 etc/hostid) || fail "od of $root/etc/hostid failed"
        hid=$(printf '%s' "$hid" | tr -d ' \n')
    else
        hid=$(hostid) || fail "hostid failed"
    fi
    expr "x$hid" : 'x[0-9a-f]\{8\}$' > /dev/null || fail "hostid value '$hid' is not 8 hex digits"
    hostid_line="  \"hostid\": \"$hid\",
"
fi

info="$work/$top/backup.json"
{
    printf '{\n  "format": 1,\n  "kind": %s,\n' "$(json_string "$kind")"
    printf '  "minion": %s,\n' "$(json_string "$minion")"
    printf '  "hostname": %s,\n  "created": %s,\n' "$(json_string "$fqdn")" "$(json_string "$stamp")"
    printf '%s' "$hostid_line"
} > "$info" || fail "cannot write backup.json"
for list in manifest:/ absent: contents:/; do
    name=${list%%:*}
    printf '  "%s": ' "$name" >> "$info" || fail "cannot write backup.json"
    json_list_file "$work/$name" "${list#*:}" >> "$info" || fail "cannot write the $name of backup.json"
    printf ',\n' >> "$info" || fail "cannot write backup.json"
done
printf '%s\n' "$extra" > "$work/extras"
{
    printf '  "extras": '
    json_list_file "$work/extras" "" || exit 1
    printf '\n}\n'
} >> "$info" || fail "cannot write backup.json"

(cd -- "$work/$top" && find . -type f ! -name SHA256SUMS -exec sha256sum {} +) > "$work/sums" ||
    fail "sha256sum of the backup's files failed"
sed 's|  \./|  |' "$work/sums" > "$work/sums.relative" || fail "sed failed"
LC_ALL=C sort -k2 "$work/sums.relative" > "$work/$top/SHA256SUMS" || fail "sort failed"
(cd -- "$work" && tar czf "$top.tgz" "$top") || fail "tar czf of the backup failed (exit $?)"
gzip -t "$work/$top.tgz" || fail "the archive does not read back"
(cd -- "$work" && sha256sum "$top.tgz" > "$top.tgz.sha256") || fail "sha256sum of the archive failed"
mv -- "$work/$top.tgz" "$dest/$top.tgz" || fail "cannot move the archive into $dest"
if ! mv -- "$work/$top.tgz.sha256" "$dest/$top.tgz.sha256"; then
    rm -f -- "$dest/$top.tgz"
    fail "cannot move the archive's checksum into $dest"
fi
echo "$dest/$top.tgz"
