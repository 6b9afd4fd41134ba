"""What users and chats keep: preferences, languages, presets, references, stickers, remixes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Protocol

from bot.store.base import Aggregate
from bot.store.drivers import Row, moment
from bot.store.records import (
    ChatPreferences,
    ChosenPreset,
    PictureRef,
    RemixPrompt,
    StickerSetState,
    StoredChat,
)

_PREFERENCES = tuple(f.name for f in dataclasses.fields(ChatPreferences))


class Chats(Protocol):
    """Each chat's and user's own settings and saved things."""

    async def chat(self, chat_id: int) -> StoredChat: ...

    async def update_preferences(self, chat_id: int, **values: str | None) -> None: ...

    async def language(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str | None) -> None: ...

    async def presets(self, owner_id: int) -> dict[str, str]: ...

    async def set_preset(self, owner_id: int, name: str, template: str) -> None: ...

    async def delete_preset(self, owner_id: int, name: str) -> bool: ...

    async def choose_preset(self, chat_id: int, user_id: int, chosen: ChosenPreset) -> None: ...

    async def take_chosen_preset(self, chat_id: int, user_id: int) -> ChosenPreset | None: ...

    async def sticker_set(self, user_id: int) -> StickerSetState | None: ...

    async def set_sticker_set(self, user_id: int, state: StickerSetState) -> None: ...

    async def save_ref(self, ref: PictureRef, most: int) -> bool: ...

    async def refs(self, *owner_ids: int) -> list[PictureRef]: ...

    async def ref(self, ref_id: int) -> PictureRef | None: ...

    async def delete_ref(self, ref_id: int) -> bool: ...

    async def share_avatar(self, user_id: int, username: str | None, shared: bool) -> None: ...

    async def shared_avatar(self, username: str) -> int | None: ...

    async def add_remix_prompt(self, prompt: RemixPrompt) -> None: ...

    async def remix_prompt(self, chat_id: int, message_id: int) -> RemixPrompt | None: ...


class SqlChats(Aggregate):
    # ---- preferences and languages -----------------------------------------------------------
    async def chat(self, chat_id: int) -> StoredChat:
        [row] = await self._db.fetch(
            f"SELECT {', '.join(f'p.{name}' for name in _PREFERENCES)}, "
            "EXISTS (SELECT 1 FROM chosen_presets WHERE chat_id = :chat_id) AS preset_waiting "
            "FROM (SELECT 1 AS here) AS here "
            "LEFT JOIN chat_preferences AS p ON p.chat_id = :chat_id",
            chat_id=chat_id,
        )
        preferences = ChatPreferences(**{name: row[name] for name in _PREFERENCES})
        return StoredChat(preferences, bool(row["preset_waiting"]))

    async def update_preferences(self, chat_id: int, **values: str | None) -> None:
        unknown = values.keys() - set(_PREFERENCES)
        if unknown or not values:
            raise ValueError(f"not a preference: {sorted(unknown) or 'nothing given'}")
        # Column names come from ChatPreferences' fields (checked above), never from user input;
        # each is also its parameter's name.
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in values)
        await self._db.execute(
            f"INSERT INTO chat_preferences (chat_id, {columns}, updated_at) "
            f"VALUES (:chat_id, {placeholders}, :now) "
            f"ON CONFLICT (chat_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at",
            chat_id=chat_id,
            now=datetime.now(UTC),
            **values,
        )

    async def language(self, user_id: int) -> str | None:
        rows = await self._db.fetch(
            "SELECT language FROM user_languages WHERE user_id = :user_id", user_id=user_id
        )
        return str(rows[0]["language"]) if rows else None

    async def set_language(self, user_id: int, language: str | None) -> None:
        """Store the user's choice; None forgets it (their Telegram app's language again)."""
        if language is None:
            await self._db.execute(
                "DELETE FROM user_languages WHERE user_id = :user_id", user_id=user_id
            )
            return
        await self._db.execute(
            "INSERT INTO user_languages (user_id, language) VALUES (:user_id, :language) "
            "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
            user_id=user_id,
            language=language,
        )

    # ---- presets and stickers ----------------------------------------------------------------
    async def presets(self, owner_id: int) -> dict[str, str]:
        """A user's or a group's presets: name -> template, by name."""
        rows = await self._db.fetch(
            "SELECT name, template FROM presets WHERE owner_id = :owner_id ORDER BY name",
            owner_id=owner_id,
        )
        return {row["name"]: row["template"] for row in rows}

    async def set_preset(self, owner_id: int, name: str, template: str) -> None:
        await self._db.execute(
            "INSERT INTO presets (owner_id, name, template) VALUES (:owner_id, :name, :template) "
            "ON CONFLICT (owner_id, name) DO UPDATE SET template = excluded.template",
            owner_id=owner_id,
            name=name,
            template=template,
        )

    async def delete_preset(self, owner_id: int, name: str) -> bool:
        rows = await self._db.fetch(
            "DELETE FROM presets WHERE owner_id = :owner_id AND name = :name RETURNING name",
            owner_id=owner_id,
            name=name,
        )
        return bool(rows)

    async def choose_preset(self, chat_id: int, user_id: int, chosen: ChosenPreset) -> None:
        await self._db.execute(
            "INSERT INTO chosen_presets (chat_id, user_id, source, name) "
            "VALUES (:chat_id, :user_id, :source, :name) "
            "ON CONFLICT (chat_id, user_id) DO UPDATE SET source = excluded.source, "
            "name = excluded.name",
            chat_id=chat_id,
            user_id=user_id,
            source=chosen.source,
            name=chosen.name,
        )

    async def take_chosen_preset(self, chat_id: int, user_id: int) -> ChosenPreset | None:
        """The preset the user chose for their next prompt here, now used up; None if none."""
        rows = await self._db.fetch(
            "DELETE FROM chosen_presets WHERE chat_id = :chat_id AND user_id = :user_id "
            "RETURNING source, name",
            chat_id=chat_id,
            user_id=user_id,
        )
        return ChosenPreset(rows[0]["source"], rows[0]["name"]) if rows else None

    async def sticker_set(self, user_id: int) -> StickerSetState | None:
        rows = await self._db.fetch(
            "SELECT number, stickers FROM sticker_sets WHERE user_id = :user_id", user_id=user_id
        )
        if not rows:
            return None
        return StickerSetState(int(rows[0]["number"]), int(rows[0]["stickers"]))

    async def set_sticker_set(self, user_id: int, state: StickerSetState) -> None:
        await self._db.execute(
            "INSERT INTO sticker_sets (user_id, number, stickers) "
            "VALUES (:user_id, :number, :stickers) "
            "ON CONFLICT (user_id) DO UPDATE SET number = excluded.number, "
            "stickers = excluded.stickers",
            user_id=user_id,
            number=state.number,
            stickers=state.stickers,
        )

    # ---- saved references --------------------------------------------------------------------
    async def save_ref(self, ref: PictureRef, most: int) -> bool:
        """Save (or replace) the owner's reference of that name (its `id` is the database's);
        False if that would make more than `most` references of theirs."""
        rows = await self._db.fetch(
            "INSERT INTO picture_refs (owner_id, name, file_id, photo, saved_at) "
            "SELECT :owner_id, :name, :file_id, :photo, :now WHERE (SELECT COUNT(*) "
            "FROM picture_refs WHERE owner_id = :owner_id AND name <> :name) < :most "
            "ON CONFLICT (owner_id, name) DO UPDATE SET file_id = excluded.file_id, "
            "photo = excluded.photo, saved_at = excluded.saved_at RETURNING id",
            owner_id=ref.owner_id,
            name=ref.name,
            file_id=ref.file_id,
            photo=int(ref.photo),
            now=datetime.now(UTC),
            most=most,
        )
        return bool(rows)

    async def refs(self, *owner_ids: int) -> list[PictureRef]:
        """The references of these owners, in the order given, each's by name."""
        if not owner_ids:
            return []
        owners = {f"owner_{n}": owner_id for n, owner_id in enumerate(owner_ids)}
        rows = await self._db.fetch(
            "SELECT id, owner_id, name, file_id, photo FROM picture_refs "
            f"WHERE owner_id IN ({', '.join(f':{name}' for name in owners)}) ORDER BY name",
            **owners,
        )
        found = [_ref(row) for row in rows]
        return sorted(found, key=lambda r: owner_ids.index(r.owner_id))

    async def ref(self, ref_id: int) -> PictureRef | None:
        rows = await self._db.fetch(
            "SELECT id, owner_id, name, file_id, photo FROM picture_refs WHERE id = :ref_id",
            ref_id=ref_id,
        )
        return _ref(rows[0]) if rows else None

    async def delete_ref(self, ref_id: int) -> bool:
        rows = await self._db.fetch(
            "DELETE FROM picture_refs WHERE id = :ref_id RETURNING id", ref_id=ref_id
        )
        return bool(rows)

    async def share_avatar(self, user_id: int, username: str | None, shared: bool) -> None:
        """Whether others may attach the user's profile photo (by their @username)."""
        if not shared:
            await self._db.execute(
                "DELETE FROM shared_avatars WHERE user_id = :user_id", user_id=user_id
            )
            return
        await self._db.execute(
            "INSERT INTO shared_avatars (user_id, username) VALUES (:user_id, :username) "
            "ON CONFLICT (user_id) DO UPDATE SET username = excluded.username",
            user_id=user_id,
            username=username.lower() if username else None,
        )

    async def shared_avatar(self, username: str) -> int | None:
        """The user who shared their profile photo under this @username, if one did."""
        rows = await self._db.fetch(
            "SELECT user_id FROM shared_avatars WHERE username = :username",
            username=username.lower(),
        )
        return int(rows[0]["user_id"]) if rows else None

    # ---- remix prompts -----------------------------------------------------------------------
    async def add_remix_prompt(self, prompt: RemixPrompt) -> None:
        await self._db.execute(
            "INSERT INTO remix_prompts (chat_id, message_id, job_id, user_id, created_at) "
            "VALUES (:chat_id, :message_id, :job_id, :user_id, :created_at) "
            "ON CONFLICT (chat_id, message_id) DO NOTHING",
            chat_id=prompt.chat_id,
            message_id=prompt.message_id,
            job_id=prompt.job_id,
            user_id=prompt.user_id,
            created_at=prompt.created_at,
        )

    async def remix_prompt(self, chat_id: int, message_id: int) -> RemixPrompt | None:
        rows = await self._db.fetch(
            "SELECT job_id, user_id, created_at FROM remix_prompts "
            "WHERE chat_id = :chat_id AND message_id = :message_id",
            chat_id=chat_id,
            message_id=message_id,
        )
        if not rows:
            return None
        row = rows[0]
        return RemixPrompt(
            chat_id, message_id, row["job_id"], row["user_id"], moment(row["created_at"])
        )


def _ref(row: Row) -> PictureRef:
    return PictureRef(
        int(row["id"]), int(row["owner_id"]), row["name"], row["file_id"], bool(row["photo"])
    )
