#!/bin/sh
# As the upstream redis image: options or a .conf file as the first argument run
# redis-server with them; redis-server runs as the redis user, owning /data.
set -eu

case "${1:-}" in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	chown -R redis:redis /data
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

exec "$@"
