"""The user's language end to end: picked from Telegram's language_code, chosen with /language
(stored, so it survives a restart), and used by the worker for the queue note and the caption."""

from __future__ import annotations

from typing import Any

from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.images import png
from tests.fakes.telegram import FakeTelegram, text_message

ALICE, BOB = 5101, 5102


def _message(text: str, user_id: int = ALICE, language: str | None = None) -> dict[str, Any]:
    return text_message(user_id, text, language=language)


async def test_help_comes_in_the_language_of_the_users_telegram_app(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    russian = await telegram.ask(_message("/help", ALICE, "ru"))
    assert russian.startswith("Я рисую картинки с помощью моделей Google Gemini.")
    assert "/ratio — соотношение сторон (например, /ratio 16:9)" in russian
    assert "/language — язык, на котором я с вами говорю" in russian

    persian = await telegram.ask(_message("/help", BOB, "fa"))
    assert "من با مدل‌های تصویرساز Gemini گوگل تصویر می‌کشم." in persian
    assert "نسبت ابعاد" in persian and "/ratio" in persian
    # Right to left: every line opens with a right-to-left mark.
    assert all(line.startswith("\u200f") for line in persian.split("\n") if line)


async def test_an_unknown_or_missing_language_gets_english(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    assert (await telegram.ask(_message("/help", ALICE, "de"))).startswith(
        "I draw pictures with Google's Gemini image models."
    )
    assert await telegram.ask(_message("/nonsense", BOB)) == (
        "I don't know that command. Send /help to see what I can do."
    )


async def test_language_es_switches_help_queue_note_and_caption_and_survives_a_restart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    assert await telegram.ask(_message("/language es", ALICE, "ru")) == (
        "¡Listo! A partir de ahora te hablo en Español."
    )
    assert (await telegram.ask(_message("/help", ALICE, "ru"))).startswith(
        "Dibujo imágenes con los modelos de imagen Gemini de Google."
    )

    # The worker answers long after the update: the job carries the language.
    assert (await telegram.ask(_message("/ratio 16:9", ALICE, "ru"))).startswith("Listo:")
    eden.then_hang(1.5)
    await telegram.send(_message("a slow fox", BOB, "en"))
    await eden.wait_for_calls(1)
    eden.image = png(1024, 1024)  # not the 16:9 asked: the caption says so
    await telegram.send(_message("a wide fox", ALICE, "ru"))
    note = (await telegram.wait_for("sendMessage", ALICE, count=4))[3]
    assert note.params["text"] == "En cola: eres el siguiente."
    assert note.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Cancelar"
    [picture] = await telegram.wait_for("sendPhoto", ALICE)
    assert picture.params["caption"] == "a wide fox\n\n1:1 · 1K · 1024×1024 · $0.067 (pedido: 16:9)"

    await bot.stop()
    await start_bot()
    assert (await telegram.ask(_message("/help", ALICE, "ru"))).startswith("Dibujo imágenes")
    # Back to the app's language.
    assert await telegram.ask(_message("/language auto", ALICE, "ru")) == (
        "Готово: снова говорю на языке вашего Telegram (Русский)."
    )
    assert (await telegram.ask(_message("/help", ALICE, "ru"))).startswith("Я рисую картинки")


async def test_language_buttons_choose_and_forged_ones_are_refused(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    shown = await telegram.answer(_message("/language", ALICE, "pt-br"))
    assert shown.params["text"].startswith(
        "Falo com você em Português (Brasil), como no seu app do Telegram."
    )
    keyboard = shown.params["reply_markup"]["inline_keyboard"]
    buttons = {b["text"]: b["callback_data"] for row in keyboard for b in row}
    assert buttons["✓ Automático (como no Telegram)"] == "lang|auto"
    assert buttons["Bahasa Indonesia"] == "lang|id"
    assert all(len(data.encode()) <= 64 for data in buttons.values())

    query = await telegram.press(shown.result, "lang|id", ALICE)
    await telegram.wait_until(lambda: bool(telegram.sent("editMessageText", ALICE)))
    [edit] = telegram.sent("editMessageText", ALICE)
    assert (
        edit.params["text"] == "Beres! Mulai sekarang aku bicara denganmu dalam Bahasa Indonesia."
    )
    [answer] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == query
    ]
    assert "text" not in answer.params

    forged = await telegram.press(shown.result, "lang|xx' OR 1=1", ALICE)
    await telegram.wait_until(
        lambda: any(
            c.params["callback_query_id"] == forged for c in telegram.sent("answerCallbackQuery")
        )
    )
    [refusal] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == forged
    ]
    # In the language just chosen; nothing else changed.
    assert refusal.params["text"] == (
        "Itu bukan bahasa yang kukuasai. Kirim /language untuk melihat pilihannya."
    )
    assert len(telegram.sent("editMessageText", ALICE)) == 1
    assert (await telegram.ask(_message("/help", ALICE, "pt-br"))).startswith("Aku menggambar")

    assert await telegram.ask(_message("/language klingon", BOB)) == (
        "I don't speak “klingon”. Choose one of: en, ru, es, pt-br, id, fa, auto"
    )
