#!/bin/sh
# Entrypoint of the MariaDB image built from Debian's packages. On the first start (an
# empty data directory) it creates the accounts the upstream image's variables ask for:
#
#   MARIADB_ROOT_PASSWORD   root's password, for root@localhost and root@'%' (required,
#                           unless MARIADB_ALLOW_EMPTY_ROOT_PASSWORD is set)
#   MARIADB_DATABASE        a database to create
#   MARIADB_USER            a user with every privilege on MARIADB_DATABASE
#   MARIADB_PASSWORD        that user's password
#
# (MYSQL_* spellings are read too.) Later starts find the data and only run the server.
# The values reach the server as SQL string literals, escaped here; nothing is evaluated.
set -eu

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

: "${MARIADB_ROOT_PASSWORD:=${MYSQL_ROOT_PASSWORD:-}}"
: "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
: "${MARIADB_DATABASE:=${MYSQL_DATABASE:-}}"
: "${MARIADB_USER:=${MYSQL_USER:-}}"
: "${MARIADB_PASSWORD:=${MYSQL_PASSWORD:-}}"

log() { echo "entrypoint: $*" >&2; }

# literal prints $1 as an SQL string literal.
literal() {
	printf "'"
	printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"
	printf "'"
}

# sql prints one statement (printf: dash's echo would read backslashes as escapes).
sql() { printf '%s\n' "$1"; }

# ident prints $1 as a quoted SQL identifier.
ident() {
	printf '`'
	printf '%s' "$1" | sed -e 's/`/``/g'
	printf '`'
}

# Options first (docker run IMAGE --max-connections=10): they are the server's.
if [ "${1#-}" != "$1" ]; then
	set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
	exec "$@"
fi
shift

install -d -o mysql -g mysql -m 0755 /run/mysqld
chown mysql:mysql "$datadir"

if [ ! -d "$datadir/mysql" ]; then
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ]; then
		log "the data directory is empty and MARIADB_ROOT_PASSWORD is not set: refusing to create a server without a root password (set MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 to allow it)"
		exit 1
	fi
	log "creating the system tables in $datadir"
	mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
		--auth-root-authentication-method=socket >/dev/null

	# A server nobody can reach over the network while the accounts are made.
	mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" "$@" &
	pid=$!
	i=0
	until mariadb-admin --socket="$socket" --user=root ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -ge 120 ] || ! kill -0 "$pid" 2>/dev/null; then
			log "the server did not start for the first setup"
			exit 1
		fi
		sleep 0.5
	done

	{
		sql "DROP USER IF EXISTS ''@'localhost';"
		if [ -n "$MARIADB_ROOT_PASSWORD" ]; then
			pw=$(literal "$MARIADB_ROOT_PASSWORD")
			sql "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($pw);"
			sql "CREATE USER 'root'@'%' IDENTIFIED BY $pw;"
		else
			sql "CREATE USER 'root'@'%';"
		fi
		sql "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		if [ -n "$MARIADB_DATABASE" ]; then
			sql "CREATE DATABASE IF NOT EXISTS $(ident "$MARIADB_DATABASE");"
		fi
		if [ -n "$MARIADB_USER" ]; then
			sql "CREATE USER $(literal "$MARIADB_USER")@'%' IDENTIFIED BY $(literal "$MARIADB_PASSWORD");"
			if [ -n "$MARIADB_DATABASE" ]; then
				sql "GRANT ALL ON $(ident "$MARIADB_DATABASE").* TO $(literal "$MARIADB_USER")@'%';"
			fi
		fi
		sql "FLUSH PRIVILEGES;"
	} | mariadb --socket="$socket" --user=root

	mariadb-admin --socket="$socket" --user=root shutdown
	wait "$pid"
	log "first setup done"
fi

exec mariadbd --user=mysql --datadir="$datadir" --socket="$socket" \
	--bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
