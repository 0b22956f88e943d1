"""`rill consumer-groups --reset-offsets` on a group that confluent-kafka (librdkafka) consumes:
the next member of the group resumes exactly where the reset put it (`--to-earliest`,
`--shift-by -N`), and `--execute` is refused while the group has an active member, as
kafka-consumer-groups refuses it."""

import subprocess

import ck
import kwire
from conftest import RILL_BIN
from test_groups_confluent import GROUP_APIS, PARTITIONS, GroupConsumer, keyed, log_ends

# How long one run of the tool may take.
TOOL_TIMEOUT_S = 60


def consumer_groups(rill, *args):
    """Runs `rill consumer-groups` against the server: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [str(RILL_BIN), "consumer-groups", "--bootstrap-server", rill.bootstrap, *args],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
    )
    return done.returncode, done.stdout, done.stderr


def reset(rill, group, *args):
    """An executed reset: partition -> NEW-OFFSET as the tool printed it."""
    code, out, err = consumer_groups(rill, "--reset-offsets", "--group", group, *args, "--execute")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "" and lines[1].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], out
    return {int(cells[2]): int(cells[3]) for cells in (line.split() for line in lines[2:])}


def read_all_then_close(rill, group, topic, n):
    """A new member of `group` reads `n` records, commits and leaves: their (partition, offset)."""
    member = GroupConsumer(rill.bootstrap, group, topic, {"debug": ""})
    got = member.poll(n)
    assert len(got) == n, f"{len(got)} of {n} records"
    member.c.commit(asynchronous=False)
    assert not member.fatal_errors(), member.errors
    member.close_promptly()
    return sorted((p, o) for p, o, _, _ in got)


def test_reset_offsets_moves_where_the_next_member_resumes(rill, topic_name):
    kwire.require_apis(rill.addr, *GROUP_APIS)
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-group"
    ck.produce(rill.bootstrap, topic_name, keyed("r", 90), "all")
    ends = log_ends(rill.bootstrap, topic_name)
    everything = sorted((p, o) for p, end in ends.items() for o in range(end))

    # 1. A member reads everything and commits the log ends.
    assert read_all_then_close(rill, group, topic_name, 90) == everything

    # 2. While a member is active the reset is refused, and nothing changes.
    active = GroupConsumer(rill.bootstrap, group, topic_name, {"debug": ""})
    active.wait_assigned()
    code, _, err = consumer_groups(
        rill, "--reset-offsets", "--group", group, "--all-topics", "--to-earliest", "--execute"
    )
    assert code == 1 and "Assignments can only be reset if the group" in err, (code, err)
    assert active.committed() == ends
    active.close_promptly()

    # 3. --to-earliest: the next member reads every record again.
    assert reset(rill, group, "--topic", topic_name, "--to-earliest") == {p: 0 for p in ends}
    assert read_all_then_close(rill, group, topic_name, 90) == everything

    # 4. --shift-by -7: the next member reads exactly the last 7 records of each partition.
    shifted = {p: max(end - 7, 0) for p, end in ends.items()}
    assert reset(rill, group, "--all-topics", "--shift-by", "-7") == shifted
    tail = sorted((p, o) for p, end in ends.items() for o in range(shifted[p], end))
    assert read_all_then_close(rill, group, topic_name, len(tail)) == tail

    # 5. --describe shows the commit the member made: no lag.
    code, out, err = consumer_groups(rill, "--describe", "--group", group)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[2:]]
    assert {int(r[2]): (int(r[3]), int(r[4]), int(r[5])) for r in rows} == {
        p: (end, end, 0) for p, end in ends.items()
    }, out
