"""One roles x actions table: the services enforce it, the page offers what it allows."""

from __future__ import annotations

import pytest

from corpchat.services import messages, policy
from corpchat.services.errors import Forbidden
from tests.factories import make_group, make_user


def test_the_table():
    assert policy.can("owner", "message.delete_others", "group")
    assert policy.can("admin", "message.delete_others", "group")
    assert not policy.can("member", "message.delete_others", "group")
    assert not policy.can("owner", "message.delete_others", "private")
    assert not policy.can("admin", "group.set_role", "group")
    with pytest.raises(Forbidden):
        policy.require("member", "group.rename", "group")
    assert set(policy.ROLES) >= {r for kinds in policy.ACTIONS.values() for roles in kinds.values() for r in roles}


def test_deleting_others_messages_follows_the_table(db_clean):
    owner, member, other = make_user("own"), make_user("mem"), make_user("oth")
    group = make_group(owner, member, other)
    m1, _ = messages.send_sync(other, group, "one", "client-00001")
    m2, _ = messages.send_sync(other, group, "two", "client-00002")
    with pytest.raises(Forbidden):
        messages.delete_for_everyone(member, m1["id"])
    push = messages.delete_for_everyone(owner, m2["id"])
    assert push.event.message_id == m2["id"] and set(push.audience) == {owner, member, other}
