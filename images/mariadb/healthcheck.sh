#!/bin/sh
# healthcheck.sh [--connect] [--innodb_initialized]: the tests of the upstream image's
# script of the same name that the catalog's mariadb template runs.
#
#   --connect             the server accepts TCP connections (not the first setup's
#                         server, which listens on no port)
#   --innodb_initialized  InnoDB is ready (asked as root over the socket)
set -eu
for test in "$@"; do
	case $test in
	--connect)
		# ping succeeds once the server answers, whatever the credentials; root's
		# password from the environment, when it still holds, keeps "access denied"
		# out of the server's log.
		MYSQL_PWD=${MARIADB_ROOT_PASSWORD:-} mariadb-admin --protocol=tcp --host=127.0.0.1 --port=3306 \
			--user=root --connect-timeout=2 ping >/dev/null 2>&1
		;;
	--innodb_initialized)
		got=$(mariadb --protocol=socket --user=root --batch --skip-column-names \
			-e "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')")
		[ "$got" = 1 ]
		;;
	*)
		echo "healthcheck.sh: unknown test $test" >&2
		exit 2
		;;
	esac
done
