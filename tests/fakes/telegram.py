"""A fake Telegram Bot API on 127.0.0.1: serves updates and files, records what the bot sends."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

from tests.fakes.server import serve

BOT_ID = 777000
BOT_USERNAME = "EdenImageTestBot"


@dataclass
class Call:
    """One Bot API call the bot made: its parameters, and the bytes of any uploaded files."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)  # of the uploads, kept or not
    result: Any = None  # what the fake answered: for sends, the message as Telegram returns it
    at: float = 0.0  # loop time when the whole request had arrived

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        return int(raw) if raw is not None else None

    @property
    def reply_to(self) -> int | None:
        reply = self.params.get("reply_parameters")
        return int(reply["message_id"]) if isinstance(reply, dict) else None


@dataclass
class StickerSet:
    """A sticker set the bot created: its owner, title, and each sticker's bytes."""

    owner: int
    title: str
    stickers: list[bytes] = field(default_factory=list)


# Sticker sets, per the Bot API: a name's form, and a regular set's size.
_SET_NAME = re.compile(r"[A-Za-z](?:_?[A-Za-z0-9])*")
SET_LIMIT = 120
_INPUT_STICKER = {"sticker", "format", "emoji_list", "mask_position", "keywords"}
_STATIC_SIDE = 512
_STATIC_MAX_BYTES = 512 * 1024


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


class FakeTelegram:
    def __init__(self, token: str, *, keep_uploads: bool = True) -> None:
        self.token = token
        # The benchmark's fake keeps only the sizes of uploads: hoarding hundreds of megabytes
        # of them cost more CPU than the bot it measures.
        self.keep_uploads = keep_uploads
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.downloads: list[str] = []
        self.admins: dict[int, set[int]] = {}
        self.served_at: dict[int, float] = {}  # message_id -> loop time getUpdates handed it out
        self.deleted: set[tuple[int, int]] = set()  # (chat_id, message_id) no longer there
        # Members of a chat; a chat that is not listed here counts everyone as a member.
        self.members: dict[int, set[int]] = {}
        # What getMe says (@BotFather /setinline turns it on).
        self.supports_inline_queries = False
        # Stars payments taken: charge id -> (user id, refunded).
        self.charges: dict[str, tuple[int, bool]] = {}
        # Users with a private chat with the bot: Telegram makes sticker sets only for them.
        self.started: set[int] = set()
        self.sticker_sets: dict[str, StickerSet] = {}
        # Seconds a file download takes (a slow file server).
        self.file_delay = 0.0
        # Users' profile photos, newest first: what getUserProfilePhotos finds.
        self.profile_photos: dict[int, list[bytes]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._failures: dict[str, list[Failure]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        # Set: updates go to this (a webhook) instead of waiting for getUpdates.
        self.deliver: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # ---- server life -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # ---- what a test does --------------------------------------------------------------------
    def add_file(self, data: bytes, suffix: str = "jpg") -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = (f"photos/{file_id}.{suffix}", data)
        return file_id

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        """Deliver a message from a user to the bot (through getUpdates)."""
        message.setdefault("message_id", next(self._message_ids))
        message.setdefault("date", int(time.time()))
        if message["chat"].get("type") == "private" and "from" in message:
            self.started.add(message["from"]["id"])
        await self._push({"message": message})
        return message

    async def press(
        self, message: dict[str, Any], data: str, user_id: int, language: str | None = None
    ) -> str:
        """A user taps the inline button with callback `data` under the bot's `message`."""
        query_id = f"query-{next(self._update_ids)}"
        query = {
            "id": query_id,
            "from": user(user_id, language),
            "chat_instance": "ci",
            "data": data,
            "message": message,
        }
        await self._push({"callback_query": query})
        return query_id

    async def inline_query(self, user_id: int, query: str) -> str:
        """A user types `@bot query` in some chat."""
        query_id = f"inline-{next(self._update_ids)}"
        inline = {"id": query_id, "from": user(user_id), "query": query, "offset": ""}
        await self._push({"inline_query": inline})
        return query_id

    async def choose_inline(
        self, user_id: int, query: str, result_id: str, inline_message_id: str | None
    ) -> None:
        """The user picks a result; Telegram sends its inline_message_id only if the result had
        a keyboard."""
        chosen: dict[str, Any] = {"result_id": result_id, "from": user(user_id), "query": query}
        if inline_message_id is not None:
            chosen["inline_message_id"] = inline_message_id
        await self._push({"chosen_inline_result": chosen})

    async def pre_checkout(
        self, user_id: int, payload: str, total: int, currency: str = "XTR"
    ) -> str:
        """A user confirms an invoice: Telegram asks the bot whether to take the payment."""
        query_id = f"checkout-{next(self._update_ids)}"
        query = {
            "id": query_id,
            "from": user(user_id),
            "currency": currency,
            "total_amount": total,
            "invoice_payload": payload,
        }
        await self._push({"pre_checkout_query": query})
        return query_id

    async def paid(
        self, user_id: int, payload: str, total: int, charge_id: str, currency: str = "XTR"
    ) -> dict[str, Any]:
        """The service message Telegram sends once it has taken a user's payment."""
        payment = {
            "currency": currency,
            "total_amount": total,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        self.charges.setdefault(charge_id, (user_id, False))
        return await self.send(
            {"chat": chat(user_id), "from": user(user_id), "successful_payment": payment}
        )

    async def refunded(
        self, user_id: int, payload: str, total: int, charge_id: str
    ) -> dict[str, Any]:
        """Telegram refunds a payment by itself (its support, a dispute) and says so in the
        user's chat with the bot."""
        self.charges[charge_id] = (user_id, True)
        refund = {
            "currency": "XTR",
            "total_amount": total,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
        }
        return await self.send(
            {"chat": chat(user_id), "from": user(user_id), "refunded_payment": refund}
        )

    async def _push(self, update: dict[str, Any]) -> None:
        numbered = {"update_id": next(self._update_ids), **update}
        if self.deliver is not None:
            if "message" in update:  # as getUpdates would have handed it out now
                self.served_at[update["message"]["message_id"]] = asyncio.get_running_loop().time()
            await self.deliver(numbered)
            return
        async with self._changed:
            self._updates.append(numbered)
            self._changed.notify_all()

    def fail_next(self, method: str, status: int, description: str, **parameters: Any) -> None:
        self._failures.setdefault(method, []).append(
            Failure(status, description, parameters or None)
        )

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (method is None or c.method == method) and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for(
        self,
        method: str | tuple[str, ...],
        chat_id: int | None = None,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[Call]:
        """The first `count` calls of `method` (to `chat_id`), waiting for them to arrive."""
        methods = (method,) if isinstance(method, str) else method

        def matching() -> list[Call]:
            return [
                c
                for c in self.calls
                if c.method in methods and (chat_id is None or c.chat_id == chat_id)
            ]

        await self.wait_until(lambda: len(matching()) >= count, timeout)
        return matching()[:count]

    async def answer(self, message: dict[str, Any]) -> Call:
        """Send a user's message and wait for the bot's answer to it."""
        return await self.reply_to(await self.send(message))

    async def ask(self, message: dict[str, Any]) -> str:
        """Send a user's message and return the text the bot answers it with."""
        reply = await self.answer(message)
        assert reply.method == "sendMessage", reply
        return str(reply.params["text"])

    async def reply_to(self, message: dict[str, Any], timeout: float = 30.0) -> Call:
        """The bot's first message, photo or document sent in answer to `message`."""
        chat_id = message["chat"]["id"]

        def answers() -> list[Call]:
            return [
                c
                for c in self.calls
                if c.method in ("sendMessage", "sendPhoto", "sendDocument")
                and c.chat_id == chat_id
                and c.reply_to == message["message_id"]
            ]

        await self.wait_until(lambda: bool(answers()), timeout)
        return answers()[0]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `condition()` holds; it is checked whenever the bot makes a call. The
        limit is generous: on a loaded CI machine a bot process can take seconds to start."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    # ---- the Bot API -------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        body = b"".join([chunk async for chunk in request.content.iter_any()])
        # The request has arrived: parsing it is the fake's work, not the bot's.
        at = asyncio.get_running_loop().time()
        params, files, filenames = _read_params(request, body)
        sizes = {name: len(data) for name, data in files.items()}
        if not self.keep_uploads:
            files = dict.fromkeys(files, b"")
        call = Call(method, params, files, filenames, sizes, at=at)
        if self._failures.get(method):
            failure = self._failures[method].pop(0)
            response = _error(failure.status, failure.description, failure.parameters)
        elif (handler := getattr(self, f"_m_{method}", None)) is None:
            response = _error(404, "Not Found: method not found")
        elif "reply_markup" in params and (wrong := _markup_error(params["reply_markup"])):
            response = _error(400, f"Bad Request: {wrong}")
        elif isinstance(result := await handler(call), web.Response):
            response = result
        else:
            call.result = result
            response = web.json_response({"ok": True, "result": result})
        if method != "getUpdates":
            async with self._changed:
                self.calls.append(call)
                self._changed.notify_all()
        return response

    async def _m_getMe(self, call: Call) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Eden Image",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.supports_inline_queries,
        }

    async def _m_getUpdates(self, call: Call) -> Any:
        offset = int(call.params.get("offset") or 0)
        timeout = float(call.params.get("timeout") or 0)
        async with self._changed:
            # Telegram forgets updates below the offset once the bot confirms them.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout:
                try:
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self._updates))
                except TimeoutError:
                    pass
            now = asyncio.get_running_loop().time()
            for update in self._updates:
                if "message" in update:
                    self.served_at.setdefault(update["message"]["message_id"], now)
            return list(self._updates)

    async def _m_deleteWebhook(self, call: Call) -> Any:
        return True

    async def _m_setWebhook(self, call: Call) -> Any:
        return True

    async def _m_setMyCommands(self, call: Call) -> Any:
        return True

    async def _m_sendChatAction(self, call: Call) -> Any:
        return True

    async def _m_answerCallbackQuery(self, call: Call) -> Any:
        return True

    async def _m_sendInvoice(self, call: Call) -> Any:
        invoice = {
            "title": call.params["title"],
            "description": call.params["description"],
            "start_parameter": "",
            "currency": call.params["currency"],
            "total_amount": sum(p["amount"] for p in call.params["prices"]),
        }
        return self._message(call.params, invoice=invoice)

    async def _m_answerPreCheckoutQuery(self, call: Call) -> Any:
        return True

    async def _m_refundStarPayment(self, call: Call) -> Any:
        # Bot API: user_id (Integer) and telegram_payment_charge_id (String), both required.
        params = call.params
        if set(params) != {"user_id", "telegram_payment_charge_id"}:
            return _error(400, f"Bad Request: wrong parameters {sorted(params)}")
        if not re.fullmatch(r"-?[0-9]+", str(params["user_id"])):
            return _error(400, "Bad Request: invalid user_id specified")
        charge_id = str(params["telegram_payment_charge_id"])
        user_id, refunded = self.charges.get(charge_id, (None, False))
        if user_id != int(params["user_id"]):
            return _error(400, "Bad Request: CHARGE_NOT_FOUND")
        if refunded:
            return _error(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        self.charges[charge_id] = (user_id, True)
        return True

    async def _m_deleteMessage(self, call: Call) -> Any:
        self.deleted.add((int(call.params["chat_id"]), int(call.params["message_id"])))
        return True

    async def _m_sendMessage(self, call: Call) -> Any:
        return self._message(call.params, text=call.params.get("text"))

    async def _m_editMessageText(self, call: Call) -> Any:
        if "inline_message_id" in call.params:
            return True  # Telegram answers an inline message's edit with True
        message = self._message(call.params, text=call.params.get("text"))
        message["message_id"] = int(call.params["message_id"])
        return message

    async def _m_editMessageReplyMarkup(self, call: Call) -> Any:
        message = self._message(call.params, reply_markup=call.params.get("reply_markup"))
        message["message_id"] = int(call.params["message_id"])
        return message

    async def _m_editMessageMedia(self, call: Call) -> Any:
        media = call.params["media"]
        if not str(media.get("media", "")).startswith("attach://") and media["media"] not in (
            self.files
        ):
            return _error(400, "Bad Request: wrong file identifier specified")
        if "inline_message_id" in call.params:
            return True
        return _error(400, "Bad Request: only inline messages are edited here")

    async def _m_answerInlineQuery(self, call: Call) -> Any:
        return True

    async def _m_getUserProfilePhotos(self, call: Call) -> Any:
        unknown = call.params.keys() - {"user_id", "offset", "limit"}
        if unknown or "user_id" not in call.params:
            return _error(400, f"Bad Request: unexpected or missing parameters {sorted(unknown)}")
        limit = int(call.params.get("limit") or 100)
        if not 1 <= limit <= 100:
            return _error(400, "Bad Request: limit must be between 1 and 100")
        photos = self.profile_photos.get(int(call.params["user_id"]), [])
        offset = int(call.params.get("offset") or 0)
        sizes = []
        for data in photos[offset : offset + limit]:
            file_id = self.add_file(data)
            sizes.append(
                [{"file_id": file_id, "file_unique_id": file_id, "width": 640, "height": 640}]
            )
        return {"total_count": len(photos), "photos": sizes}

    def _media(self, call: Call, field: str, media: str) -> str | None:
        """The file_id of what a send carries: an upload (kept, as Telegram does) or the
        file_id of a file Telegram has; None for a file_id it does not know."""
        if field in call.files or media.startswith("attach://"):
            return self.add_file(call.files[field if field in call.files else media[9:]])
        return media if media in self.files else None

    async def _m_sendMediaGroup(self, call: Call) -> Any:
        if not 2 <= len(call.params["media"]) <= 10:
            return _error(400, "Bad Request: media group must have 2-10 items")
        messages = []
        for item in call.params["media"]:
            file_id = self._media(call, "", item["media"])
            if file_id is None:
                return _error(400, "Bad Request: wrong file identifier specified")
            content = {"file_id": file_id, "file_unique_id": file_id}
            kind = (
                {"photo": [{**content, "width": 90, "height": 90}]}
                if item["type"] == "photo"
                else {"document": {**content, "file_name": "image.png", "mime_type": "image/png"}}
            )
            message = self._message(call.params, caption=item.get("caption"), **kind)
            message["media_group_id"] = "album"
            messages.append(message)
        return messages

    async def _m_sendPhoto(self, call: Call) -> Any:
        # Like Telegram, keep what was sent so that a reply to this photo can download it.
        file_id = self._media(call, "photo", str(call.params.get("photo", "")))
        if file_id is None:
            return _error(400, "Bad Request: wrong file identifier specified")
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90}]
        return self._message(call.params, photo=photo, caption=call.params.get("caption"))

    async def _m_sendDocument(self, call: Call) -> Any:
        if "document" in call.files:
            file_id = self.add_file(call.files["document"], "png")
        elif (file_id := str(call.params.get("document", ""))) not in self.files:
            return _error(400, "Bad Request: wrong file identifier specified")
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": call.filenames.get("document", "image.png"),
            "mime_type": "image/png",
        }
        return self._message(call.params, document=document, caption=call.params.get("caption"))

    async def _m_getFile(self, call: Call) -> Any:
        file_id = call.params.get("file_id", "")
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_getChatMember(self, call: Call) -> Any:
        chat_id, user_id = int(call.params["chat_id"]), int(call.params["user_id"])
        if user_id in self.admins.get(chat_id, set()):
            return {"status": "creator", "user": user(user_id), "is_anonymous": False}
        if chat_id in self.members and user_id not in self.members[chat_id]:
            return {"status": "left", "user": user(user_id)}
        return {"status": "member", "user": user(user_id)}

    async def _m_createNewStickerSet(self, call: Call) -> Any:
        params = call.params
        if refused := _unknown_or_missing(
            params, {"user_id", "name", "title", "stickers"}, {"sticker_type", "needs_repainting"}
        ):
            return refused
        name, title, stickers = str(params["name"]), str(params["title"]), params["stickers"]
        if int(params["user_id"]) not in self.started:
            return _error(400, "Bad Request: PEER_ID_INVALID")
        if not (
            _SET_NAME.fullmatch(name)
            and len(name) <= 64
            and name.lower().endswith(f"_by_{BOT_USERNAME.lower()}")
        ):
            return _error(400, "Bad Request: invalid sticker set name is specified")
        if not 1 <= len(title) <= 64:
            return _error(400, "Bad Request: invalid sticker set title specified")
        if params.get("sticker_type", "regular") not in ("regular", "mask", "custom_emoji"):
            return _error(400, "Bad Request: wrong sticker type specified")
        if not isinstance(stickers, list) or not 1 <= len(stickers) <= 50:
            return _error(400, "Bad Request: can't parse stickers JSON object")
        files = []
        for sticker in stickers:
            data = self._input_sticker(call, sticker)
            if isinstance(data, web.Response):
                return data
            files.append(data)
        if name.lower() in (n.lower() for n in self.sticker_sets):
            return _error(400, "Bad Request: sticker set name is already occupied")
        self.sticker_sets[name] = StickerSet(int(params["user_id"]), title, files)
        return True

    async def _m_addStickerToSet(self, call: Call) -> Any:
        params = call.params
        if refused := _unknown_or_missing(params, {"user_id", "name", "sticker"}, set()):
            return refused
        if int(params["user_id"]) not in self.started:
            return _error(400, "Bad Request: PEER_ID_INVALID")
        found = self.sticker_sets.get(str(params["name"]))
        if found is None or found.owner != int(params["user_id"]):
            return _error(400, "Bad Request: STICKERSET_INVALID")
        data = self._input_sticker(call, params["sticker"])
        if isinstance(data, web.Response):
            return data
        if data in found.stickers:
            return True  # "exactly the same sticker": the set isn't changed
        if len(found.stickers) >= SET_LIMIT:
            return _error(400, "Bad Request: STICKERS_TOO_MUCH")
        found.stickers.append(data)
        return True

    def _input_sticker(self, call: Call, sticker: Any) -> bytes | web.Response:
        """An InputSticker's file, checked as Telegram checks a static sticker."""
        if not isinstance(sticker, dict) or not {"sticker", "format", "emoji_list"} <= set(sticker):
            return _error(400, "Bad Request: can't parse InputSticker JSON object")
        if set(sticker) - _INPUT_STICKER:
            return _error(400, f"Bad Request: unknown InputSticker fields {set(sticker)}")
        emoji = sticker["emoji_list"]
        if not isinstance(emoji, list) or not 1 <= len(emoji) <= 20:
            return _error(400, "Bad Request: invalid sticker emojis")
        if sticker["format"] not in ("static", "animated", "video"):
            return _error(400, "Bad Request: invalid sticker format")
        source = str(sticker["sticker"])
        if source.startswith("attach://"):
            data = call.files.get(source.removeprefix("attach://"))
        else:
            data = self.files[source][1] if source in self.files else None
        if data is None:
            return _error(400, "Bad Request: wrong file identifier specified")
        if sticker["format"] == "static":
            try:
                with Image.open(io.BytesIO(data)) as image:
                    fmt, size = image.format, image.size
            except OSError:
                return _error(400, "Bad Request: STICKER_FILE_INVALID")
            if fmt not in ("PNG", "WEBP") or len(data) > _STATIC_MAX_BYTES:
                return _error(400, "Bad Request: STICKER_FILE_INVALID")
            if max(size) != _STATIC_SIDE:
                return _error(400, "Bad Request: STICKER_PNG_DIMENSIONS")
        return data

    def _message(self, params: dict[str, Any], **content: Any) -> Any:
        reply = params.get("reply_parameters")
        if (
            isinstance(reply, dict)
            and (int(params["chat_id"]), reply["message_id"]) in self.deleted
        ):
            if not reply.get("allow_sending_without_reply"):
                return _error(400, "Bad Request: message to be replied not found")
            params["reply_parameters"] = None  # sent, but not as a reply
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat(int(params["chat_id"])),
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Eden Image",
                "username": BOT_USERNAME,
            },
        }
        message.update({k: v for k, v in content.items() if v is not None})
        return message

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        async with self._changed:
            self.downloads.append(path)
            self._changed.notify_all()
        await asyncio.sleep(self.file_delay)
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        return web.Response(status=404)


def _read_params(
    request: web.Request, body: bytes
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """Form fields as PTB sends them: JSON-encoded where complex; uploads arrive as multipart."""
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    filenames: dict[str, str] = {}
    if request.content_type.startswith("multipart/"):
        # Split the whole body at once: aiohttp's part reader is slow for 30 MB uploads, and the
        # benchmark must time the bot, not the fake.
        [boundary_text] = re.findall(r'boundary="?([^";]+)', request.headers["Content-Type"])
        boundary = b"--" + boundary_text.encode()
        for part in body.split(boundary)[1:-1]:
            head, _, content = part[2:-2].partition(b"\r\n\r\n")
            disposition = next(
                line for line in head.decode().split("\r\n")
                if line.lower().startswith("content-disposition")
            )  # fmt: skip
            fields = dict(re.findall(r'(\w+)="([^"]*)"', disposition))
            if "filename" in fields:
                files[fields["name"]] = content
                filenames[fields["name"]] = fields["filename"]
            else:
                params[fields["name"]] = content.decode()
    elif body:
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params, files, filenames


# An inline keyboard button is exactly one of these kinds (Bot API 9.4, InlineKeyboardButton).
_BUTTON_KINDS = {
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
}  # fmt: skip


def _markup_error(markup: Any) -> str | None:
    """Why Telegram would refuse this reply_markup, as it says it; None if it would not."""
    if not isinstance(markup, dict):
        return "can't parse reply keyboard markup JSON object"
    if "force_reply" in markup:
        placeholder = markup.get("input_field_placeholder")
        if markup["force_reply"] is not True:
            return 'field "force_reply" must be True'
        if placeholder is not None and not 1 <= len(placeholder) <= 64:
            return "input field placeholder is too long"
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                return "text buttons are unallowed in the inline keyboard"
            kinds = _BUTTON_KINDS & button.keys()
            if len(kinds) != 1:
                return "can't parse inline keyboard button: exactly one kind is required"
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                return "BUTTON_DATA_INVALID"
            if "copy_text" in button and not 1 <= len(button["copy_text"].get("text", "")) <= 256:
                return "COPY_TEXT_INVALID"
    return None


def user(user_id: int, language: str | None = None) -> dict[str, Any]:
    """A user; `language` is their Telegram app's `language_code` (Telegram omits it at times)."""
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
    if language is not None:
        found["language_code"] = language
    return found


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": f"Group{chat_id}"}


def _entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram would attach: a leading /command and every other @mention."""
    entities = []
    command = len(text.split()[0]) if text.startswith("/") else 0
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": command})
    for match in re.finditer(r"@\w+", text):
        if match.start() >= command:  # `/cmd@bot` is one command, not a mention
            entities.append({"type": "mention", "offset": match.start(), "length": len(match[0])})
    return entities


def text_message(
    chat_id: int,
    text: str,
    user_id: int | None = None,
    reply_to: dict[str, Any] | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """A user's text message, with the entities Telegram would add."""
    message: dict[str, Any] = {
        "chat": chat(chat_id),
        "from": user(user_id or abs(chat_id), language),
        "text": text,
    }
    if entities := _entities(text):
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return message


def _with_caption(message: dict[str, Any], caption: str | None) -> dict[str, Any]:
    if caption is not None:
        message["caption"] = caption
        if entities := _entities(caption):
            message["caption_entities"] = entities
    return message


def photo_message(
    chat_id: int,
    sizes: list[tuple[str, int, int, int]],
    caption: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A photo message; `sizes` are (file_id, width, height, file_size), smallest first."""
    message: dict[str, Any] = {
        "chat": chat(chat_id),
        "from": user(abs(chat_id)),
        "photo": [
            {"file_id": fid, "file_unique_id": fid, "width": w, "height": h, "file_size": n}
            for fid, w, h, n in sizes
        ],
        **extra,
    }
    return _with_caption(message, caption)


def document_message(
    chat_id: int,
    file_id: str,
    mime_type: str,
    file_size: int,
    caption: str | None = None,
    file_name: str = "picture",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "chat": chat(chat_id),
        "from": user(abs(chat_id)),
        "document": {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": file_size,
        },
    }
    return _with_caption(message, caption)


def _unknown_or_missing(
    params: dict[str, Any], required: set[str], optional: set[str]
) -> web.Response | None:
    """Telegram's answer to a missing parameter; a misspelt one, which Telegram would silently
    ignore, is refused here so that a test shows it."""
    if missing := required - set(params):
        return _error(400, f"Bad Request: parameter {sorted(missing)[0]} is required")
    if unknown := set(params) - required - optional:
        return _error(400, f"Bad Request: unknown parameters {sorted(unknown)}")
    return None


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
