"""Users' SCRAM credentials (issue 16, KIP-554) from confluent-kafka's AdminClient:
alter_user_scram_credentials and describe_user_scram_credentials against real `rill server`
processes. The credentials live in the metadata log: they survive `kill -9`, and a broker
describes what another one (a broker-only observer of the quorum too) altered."""

import time

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

import ck

TIMEOUT_S = 15
RESOURCE_NOT_FOUND = 91
DUPLICATE_RESOURCE = 92
UNACCEPTABLE_CREDENTIAL = 93


def upsert(user, mechanism, iterations, password):
    return UserScramCredentialUpsertion(
        user, ScramCredentialInfo(mechanism, iterations), password.encode()
    )


def alter(admin, alterations):
    """Each user's outcome: None, or the Kafka error code it was refused with."""
    futures = admin.alter_user_scram_credentials(alterations, request_timeout=TIMEOUT_S)
    outcomes = {}
    for user, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
            outcomes[user] = None
        except KafkaException as e:
            outcomes[user] = e.args[0].code()
    return outcomes


def described(admin, users=None):
    """{user: {mechanism: iterations}} for every user (users=None) or those named that have
    credentials; a named user without any maps to the error code."""
    if users is None:
        descriptions = admin.describe_user_scram_credentials(request_timeout=TIMEOUT_S).result(
            timeout=TIMEOUT_S
        )
        items = descriptions.items()
    else:
        futures = admin.describe_user_scram_credentials(users, request_timeout=TIMEOUT_S)
        items = []
        for user, future in futures.items():
            try:
                items.append((user, future.result(timeout=TIMEOUT_S)))
            except KafkaException as e:
                items.append((user, e.args[0].code()))
    out = {}
    for user, description in items:
        if isinstance(description, int):
            out[user] = description
        else:
            out[user] = {i.mechanism: i.iterations for i in description.scram_credential_infos}
    return out


def test_confluent_scram_credentials_alter_describe_delete_and_survive_a_restart(rill):
    a = ck.admin(rill.bootstrap)
    outcomes = alter(
        a,
        [
            upsert("alice", ScramMechanism.SCRAM_SHA_256, 8192, "alice-secret"),
            upsert("bob", ScramMechanism.SCRAM_SHA_512, 4096, "bob-secret"),
            # Kafka's controller refuses a user changed twice in one request, whatever the
            # mechanisms, and Rill too.
            upsert("carol", ScramMechanism.SCRAM_SHA_256, 4096, "c"),
            upsert("carol", ScramMechanism.SCRAM_SHA_512, 4096, "c"),
            upsert("dave", ScramMechanism.SCRAM_SHA_256, 100, "d"),
        ],
    )
    assert outcomes == {
        "alice": None,
        "bob": None,
        "carol": DUPLICATE_RESOURCE,
        "dave": UNACCEPTABLE_CREDENTIAL,
    }
    assert alter(a, [upsert("alice", ScramMechanism.SCRAM_SHA_512, 4096, "alice-secret")]) == {
        "alice": None
    }
    expected = {
        "alice": {ScramMechanism.SCRAM_SHA_256: 8192, ScramMechanism.SCRAM_SHA_512: 4096},
        "bob": {ScramMechanism.SCRAM_SHA_512: 4096},
    }
    assert described(a) == expected
    assert described(a, ["alice", "nobody"]) == {
        "alice": expected["alice"],
        "nobody": RESOURCE_NOT_FOUND,
    }
    # Deleting what is not there is RESOURCE_NOT_FOUND; deleting what is removes it.
    assert alter(a, [UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_256)]) == {
        "bob": RESOURCE_NOT_FOUND
    }
    assert alter(a, [UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_512)]) == {
        "bob": None
    }
    assert described(a) == {"alice": expected["alice"]}

    rill.restart()
    a = ck.admin(rill.bootstrap)
    assert described(a) == {"alice": expected["alice"]}


def test_confluent_scram_credentials_reach_every_broker(rill_cluster):
    """Altered through a broker-only node (its voter forwards to the quorum's leader), then
    described through the voter node once it applied the entry, and the other way round."""
    voter, observer = rill_cluster(1, broker_only=1)
    through_observer, through_voter = ck.admin(observer.bootstrap), ck.admin(voter.bootstrap)
    assert alter(through_observer, [upsert("erin", ScramMechanism.SCRAM_SHA_512, 5000, "e")]) == {
        "erin": None
    }
    erin = {"erin": {ScramMechanism.SCRAM_SHA_512: 5000}}
    assert described(through_observer) == erin, "read-your-writes on the broker altered"
    deadline = time.monotonic() + TIMEOUT_S
    while described(through_voter) != erin:
        assert time.monotonic() < deadline, "the voter never showed the credential"
        time.sleep(0.1)
    assert alter(through_voter, [UserScramCredentialDeletion("erin", ScramMechanism.SCRAM_SHA_512)]) == {
        "erin": None
    }
    deadline = time.monotonic() + TIMEOUT_S
    while described(through_observer) != {}:
        assert time.monotonic() < deadline, "the observer never applied the deletion"
        time.sleep(0.1)
