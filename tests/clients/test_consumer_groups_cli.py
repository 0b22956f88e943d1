"""`rill consumer-groups --reset-offsets` on a group that confluent-kafka (librdkafka) consumes:
the next member of the group resumes exactly where the reset put it (`--to-earliest`,
`--shift-by -N`), and `--execute` is refused while the group has an active member, as
kafka-consumer-groups refuses it; the time-based, `--to-current` and `--from-file` targets
against records with known timestamps."""

import subprocess
import time

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


def plan(rill, group, *args):
    """A dry-run reset: partition -> NEW-OFFSET, and the tool's stderr."""
    code, out, err = consumer_groups(rill, "--reset-offsets", "--group", group, *args)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "" and lines[1].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], out
    return {int(cells[2]): int(cells[3]) for cells in (line.split() for line in lines[2:])}, err


def test_reset_offsets_by_time_to_current_and_from_file(rill, topic_name, tmp_path):
    """--to-datetime and --by-duration pick ListOffsets' offset for the time (the log end where no
    record is that late, with Kafka's warning); --to-current keeps the commit (the log end
    without one); --export writes the plan as CSV that --from-file executes."""
    kwire.require_apis(rill.addr, *GROUP_APIS)
    ck.create_topic(rill.bootstrap, topic_name, 2)
    group = f"{topic_name}-group"
    hour_ms = 3_600_000
    now_ms = int(time.time() * 1000)
    # Partition 0: ten records an hour apart, the last an hour ago.
    recent = [now_ms - (10 - i) * hour_ms for i in range(10)]
    ck.produce(rill.bootstrap, topic_name, keyed("recent", 10), "all", timestamps=recent, partition=0)
    # Partition 1: ten records a second apart from 2023-11-14T22:13:20Z.
    old = [1_700_000_000_000 + i * 1000 for i in range(10)]
    ck.produce(rill.bootstrap, topic_name, keyed("old", 10), "all", timestamps=old, partition=1)

    # 2023-11-14T22:13:24.500Z is between the 5th and 6th record of partition 1, and before
    # every record of partition 0; the zone spellings name the same instant.
    for when in ["2023-11-14T22:13:24.500Z", "2023-11-14T23:13:24.500+01:00", "2023-11-14T22:13:24.500"]:
        offsets, _ = plan(rill, group, "--topic", topic_name, "--to-datetime", when)
        assert offsets == {0: 0, 1: 5}, when
    # Five and a half hours ago: after the 5th record of partition 0, after all of partition 1.
    offsets, err = plan(rill, group, "--topic", topic_name, "--by-duration", "PT5H30M")
    assert offsets == {0: 5, 1: 10}, offsets
    assert f"Warn: Partition 1 from topic {topic_name} is empty. Falling back to latest known offset." in err
    code, _, err = consumer_groups(rill, "--reset-offsets", "--group", group, "--topic", topic_name, "--to-datetime", "2023-11-14")
    assert code == 2 and "cannot parse date-time '2023-11-14'" in err, (code, err)

    # --to-current: no commit yet, so each log end; after --to-datetime --execute, that commit.
    assert plan(rill, group, "--topic", topic_name, "--to-current")[0] == {0: 10, 1: 10}
    assert reset(rill, group, "--topic", topic_name, "--to-datetime", "2023-11-14T22:13:24.500Z") == {0: 0, 1: 5}
    assert plan(rill, group, "--topic", topic_name, "--to-current")[0] == {0: 0, 1: 5}

    # --export prints the plan as CSV; --from-file executes it (and clamps, as --to-offset).
    code, out, err = consumer_groups(
        rill, "--reset-offsets", "--group", group, "--topic", topic_name, "--shift-by", "3", "--export"
    )
    assert code == 0 and out == f"{topic_name},0,3\n{topic_name},1,8\n", (out, err)
    plan_file = tmp_path / "plan.csv"
    plan_file.write_text(out + f"other-group,{topic_name},0,1\n{topic_name},1,99\n")
    assert reset(rill, group, "--from-file", str(plan_file)) == {0: 3, 1: 10}
    assert plan(rill, group, "--topic", topic_name, "--to-current")[0] == {0: 3, 1: 10}
