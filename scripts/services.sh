#!/usr/bin/env bash
# Start the MariaDB and PostgreSQL servers the database tests use, if they are not running.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "services: nothing listens on 127.0.0.1:$1 after 30 s" >&2
  return 1
}

if ! port_open 3306; then
  echo "services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_port 3306
fi
pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" 2>/dev/null | sort -V | tail -n 1)
if ! port_open 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  wait_port 5432
fi
echo "services: MariaDB on 127.0.0.1:3306 and PostgreSQL on 127.0.0.1:5432 are up"
