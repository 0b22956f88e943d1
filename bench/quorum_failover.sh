#!/usr/bin/env bash
# Measures the controller quorum's failover: 3 combined nodes on 127.0.0.1, kill -9 the leader,
# time until another voter is reported leader by DescribeQuorum (through a survivor).
set -u
B=${RILL_BIN:-target/debug/rill}
D=$(mktemp -d)
trap 'for i in 1 2 3; do kill -9 $(cat $D/pid$i 2>/dev/null) 2>/dev/null; done; wait 2>/dev/null; rm -rf $D' EXIT
V="1@127.0.0.1:29201,2@127.0.0.1:29202,3@127.0.0.1:29203"
for i in 1 2 3; do
  $B server --node-id $i --listeners PLAINTEXT://127.0.0.1:2930$i,CONTROLLER://127.0.0.1:2920$i --log-dirs $D/d$i --override controller.quorum.voters=$V > $D/log$i 2>&1 &
  echo $! > $D/pid$i
done
t0=$(date +%s%N)
give_up=$(( $(date +%s) + 30 ))
until $B metadata-quorum --bootstrap-server 127.0.0.1:29301 describe --status >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$give_up" ] || { echo "no quorum within 30 s" >&2; exit 1; }
  sleep 0.05
done
t1=$(date +%s%N)
leader=$($B metadata-quorum --bootstrap-server 127.0.0.1:29301 describe --status | awk '/LeaderId/{print $2}')
kill -9 $(cat $D/pid$leader)
t2=$(date +%s%N)
other=$(( leader % 3 + 1 ))
give_up=$(( $(date +%s) + 30 ))
while :; do
  [ "$(date +%s)" -lt "$give_up" ] || { echo "no new leader within 30 s" >&2; exit 1; }
  now=$($B metadata-quorum --bootstrap-server 127.0.0.1:2930$other describe --status 2>/dev/null | awk '/LeaderId/{print $2}')
  if [ -n "$now" ] && [ "$now" != "$leader" ]; then break; fi
  sleep 0.05
done
t3=$(date +%s%N)
echo "cold start to a described quorum: $(( (t1-t0)/1000000 )) ms; failover after kill -9 of leader $leader: $(( (t3-t2)/1000000 )) ms (new leader $now)"
