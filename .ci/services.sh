#!/usr/bin/env bash
# Brings up what the test suite needs on a Debian machine: RabbitMQ on 5672,
# NATS with JetStream on 4222, Redis on 6379, and the Python peers of the
# interoperability tests (oslo.messaging, oslo.config, oslo.versionedobjects,
# oslo.metrics). Installs missing Debian packages when run as root; starts
# services that are installed but stopped. Idempotent.
set -uo pipefail

log() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }

wait_port() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		port_open "$1" && return 0
		sleep 0.1
	done
	return 1
}

apt_updated=
ensure_pkg() { # package [binary-or-path]
	local pkg=$1 probe=${2:-}
	if [ -n "$probe" ] && { command -v "$probe" >/dev/null 2>&1 || [ -e "$probe" ]; }; then return 0; fi
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && return 0
	if [ "$(id -u)" != 0 ]; then
		log "package $pkg is missing and we are not root: install it"
		return 1
	fi
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || true
		apt_updated=1
	fi
	log "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
}

status=0

# RabbitMQ
if ! port_open 5672; then
	ensure_pkg rabbitmq-server rabbitmq-server || status=1
	log "starting RabbitMQ"
	rabbitmq-server -detached >/dev/null 2>&1 || true
	wait_port 5672 90 || { log "RabbitMQ did not come up on 5672"; status=1; }
fi

# NATS with JetStream
if ! port_open 4222; then
	ensure_pkg nats-server /usr/sbin/nats-server || status=1
	log "starting NATS"
	mkdir -p /var/lib/nats-server
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log >/dev/null 2>&1 || true
	wait_port 4222 20 || { log "NATS did not come up on 4222"; status=1; }
fi

# Redis (ZeroMQ matchmaker)
if ! port_open 6379; then
	ensure_pkg redis-server redis-server || status=1
	log "starting Redis"
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
	wait_port 6379 20 || { log "Redis did not come up on 6379"; status=1; }
fi

# Python peer: Debian's oslo.messaging, for the system python3, and
# oslo.config (the config package's interoperability test).
if ! /usr/bin/python3 -c 'import oslo_messaging' >/dev/null 2>&1; then
	ensure_pkg python3-oslo.messaging || status=1
fi
if ! /usr/bin/python3 -c 'import oslo_config' >/dev/null 2>&1; then
	ensure_pkg python3-oslo.config || status=1
fi

# Python oslo.versionedobjects, for the objects interop tests.
if ! /usr/bin/python3 -c 'import oslo_versionedobjects' >/dev/null 2>&1; then
	ensure_pkg python3-oslo.versionedobjects || status=1
fi

# oslo.metrics, whose families contrib/prometheus's tests compare with.
if ! /usr/bin/python3 -c 'import oslo_metrics.metrics.oslo_messaging' >/dev/null 2>&1; then
	ensure_pkg python3-oslo.metrics || status=1
fi

exit $status
