#!/bin/bash
# Rehearsal stand-in for the start script a Red5 Pro distribution ships.
# On the rehearsal host the service is driven by the systemctl shim, so
# this script only explains that and delegates.
case "${1:-}" in
    start|stop|restart) exec systemctl "$1" red5pro ;;
    *) echo "usage: $0 {start|stop|restart}" >&2; exit 2 ;;
esac
