"""Saved references as both databases keep them: replaced by name, capped per owner, a user's
before their group's, and profile photos shared by @username until taken back."""

from __future__ import annotations

from bot.store.storage import PictureRef
from bot.telegram.handlers.references import marked_names
from tests.conftest import OpenStore

USER, GROUP = 8, -100800


async def test_references_are_replaced_by_name_capped_and_listed_owner_by_owner(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    assert await storage.save_ref(PictureRef(0, GROUP, "logo", "g-logo", photo=True), 2)
    assert await storage.save_ref(PictureRef(0, USER, "cat", "cat-1", photo=True), 2)
    assert await storage.save_ref(PictureRef(0, USER, "cat", "cat-2", photo=False), 2)
    assert await storage.save_ref(PictureRef(0, USER, "bird", "bird", photo=True), 2)
    # A third name is one too many; replacing one of the two is not.
    assert not await storage.save_ref(PictureRef(0, USER, "dog", "dog", photo=True), 2)
    assert await storage.save_ref(PictureRef(0, USER, "bird", "bird-2", photo=True), 2)
    found = [(r.owner_id, r.name, r.file_id, r.photo) for r in await storage.refs(USER, GROUP)]
    assert found == [
        (USER, "bird", "bird-2", True),
        (USER, "cat", "cat-2", False),
        (GROUP, "logo", "g-logo", True),
    ]
    [bird, *_] = await storage.refs(USER)
    assert await storage.ref(bird.id) == bird
    assert await storage.delete_ref(bird.id)
    assert not await storage.delete_ref(bird.id)
    assert await storage.ref(bird.id) is None


async def test_a_profile_photo_is_shared_by_username_until_taken_back(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    assert await storage.shared_avatar("bob") is None
    await storage.share_avatar(USER, "Bob", True)
    assert await storage.shared_avatar("BOB") == USER
    await storage.share_avatar(USER, "Bob", False)
    assert await storage.shared_avatar("bob") is None


def test_names_are_marked_words_not_numbers_or_parts_of_words() -> None:
    assert marked_names("#Me in #hat, #hat again; #1 poster, a#b, #x_2!") == ["me", "hat", "x_2"]
