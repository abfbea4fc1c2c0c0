#!/bin/sh
# Roles of the Woopdi image. Each runs as PID 1's child via exec, so SIGTERM reaches Node directly
# and the graceful shutdown (finish requests and jobs, close sockets with 1012) runs.
set -e
role="${1:-api}"
case "$role" in
  api) exec node --import tsx src/main-api.ts ;;
  worker) exec node --import tsx src/main-worker.ts ;;
  migrate) exec node --import tsx src/main-migrate.ts ;;
  *) echo "woopdi: unknown role '$role' (use api, worker or migrate)" >&2; exit 64 ;;
esac
