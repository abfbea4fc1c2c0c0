#!/bin/sh
# Roles of the Woopdi image, each the compiled JavaScript (dist/) on plain node. exec replaces this
# shell, so SIGTERM reaches Node directly and the graceful shutdown (finish requests and jobs, close
# sockets with 1012) runs. The api honours WEB_CONCURRENCY (node:cluster, one port) and HOST.
set -e
role="${1:-api}"
case "$role" in
  api) exec node /app/dist/main-api.js ;;
  worker) exec node /app/dist/main-worker.js ;;
  migrate) exec node /app/dist/main-migrate.js ;;
  *) echo "woopdi: unknown role '$role' (use api, worker or migrate)" >&2; exit 64 ;;
esac
