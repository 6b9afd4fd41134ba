"""Request bodies for both Eden protocols, and reading every reply shape the gateways use."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from bot.domain import ImageRequest, Picture
from bot.lineup.catalog import capabilities_for
from bot.upstream import chat, images
from bot.upstream.errors import MalformedResponse
from bot.upstream.payload import LIFTED, WireProtocol, decode_data_url, error_detail, lift_image
from tests.fakes.eden import chat_reply, data_url, images_reply
from tests.fakes.images import jpeg, png

MODEL_31 = "google/gemini-3.1-flash-image"
MODEL_PRO = "google/gemini-3-pro-image"
MODEL_25 = "google/gemini-2.5-flash-image"
PHOTO = Picture(data=jpeg(40, 30), mime="image/jpeg", width=40, height=30)


def _request(
    ratio: str = "1:1", size: str = "1K", model: str = MODEL_31, **kw: Any
) -> ImageRequest:
    return ImageRequest(prompt="a red fox", model=model, aspect_ratio=ratio, image_size=size, **kw)


def test_chat_edit_body_carries_the_photo_as_a_data_url() -> None:
    body = chat.body(_request("4:3", "2K", images=(PHOTO,)))
    content = body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "a red fox"}
    assert content[1]["type"] == "image_url"
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PHOTO.data


def test_gemini_25_gets_no_image_size() -> None:
    assert chat.body(_request(model=MODEL_25))["image_config"] == {"aspect_ratio": "1:1"}
    body = images.body(_request("16:9", model=MODEL_25))
    assert body["image_config"] == {"aspect_ratio": "16:9"}
    assert body["aspect_ratio"] == "16:9"
    assert "image_size" not in body


# Every model the catalog knows, with every ratio and size it accepts.
EVERY_SHAPE = [
    (model, ratio, size)
    for model in (MODEL_31, MODEL_PRO, MODEL_25)
    for ratio in capabilities_for(model).aspect_ratios
    for size in capabilities_for(model).image_sizes
]
# The five `size` values a LiteLLM-style gateway turns into a ratio; any other `size` is 1:1.
GATEWAY_SIZES = {
    "1:1": "1024x1024", "16:9": "1792x1024", "9:16": "1024x1792", "4:3": "1280x896",
    "3:4": "896x1280",
}  # fmt: skip


@pytest.mark.parametrize(("model", "ratio", "size"), EVERY_SHAPE)
def test_chat_body_for_every_model_ratio_and_size(model: str, ratio: str, size: str) -> None:
    request = _request(ratio, size, model=model)
    assert chat.path(request) == "/chat/completions"
    body = chat.body(request)
    config = (
        {"aspect_ratio": ratio, "image_size": size}
        if model != MODEL_25
        else {"aspect_ratio": ratio}
    )
    assert body == {
        "model": model,
        "messages": [{"role": "user", "content": "a red fox"}],
        "image_config": config,
    }


@pytest.mark.parametrize(("model", "ratio", "size"), EVERY_SHAPE)
def test_images_body_for_every_model_ratio_and_size(model: str, ratio: str, size: str) -> None:
    request = _request(ratio, size, model=model)
    body = images.body(request)
    assert images.path(request) == "/images/generations"
    config = (
        {"aspect_ratio": ratio, "image_size": size}
        if model != MODEL_25
        else {"aspect_ratio": ratio}
    )
    expected = {
        "model": model,
        "prompt": "a red fox",
        "n": 1,
        "response_format": "b64_json",
        **config,  # flat, as gateways read them
        "image_config": config,  # as Gemini's own API names it
    }
    # `size` only where a gateway's table turns it into this very ratio: never a contradiction.
    if ratio in GATEWAY_SIZES:
        expected["size"] = GATEWAY_SIZES[ratio]
    assert body == expected


def test_images_size_never_contradicts_the_ratio() -> None:
    assert images.body(_request("16:9", "4K"))["size"] == "1792x1024"
    assert "size" not in images.body(_request("21:9", "1K"))
    assert "size" not in images.body(_request("8:1", "4K"))
    assert "size" not in images.body(_request("2:3", "512"))


def test_images_edit_body() -> None:
    request = _request(images=(PHOTO, PHOTO))
    body = images.body(request)
    assert images.path(request) == "/images/edits"
    assert [decode_data_url(i["image_url"]) for i in body["images"]] == [PHOTO.data, PHOTO.data]


# ---- reading replies -------------------------------------------------------------------------
IMG = png(8, 8)
URL = data_url(IMG)


CHAT_SHAPES = [
        pytest.param(chat_reply(URL), id="content-data-url"),
        pytest.param(chat_reply(f"Here you go!\n![image]({URL})"), id="markdown-data-url"),
        pytest.param(chat_reply(f"  {URL}\n"), id="padded-data-url"),
        pytest.param(
            chat_reply(None, message_extra={"images": [{"type": "image_url", "image_url": {"url": URL}}]}),
            id="openrouter-images",
        ),
        pytest.param(
            chat_reply([{"type": "text", "text": "Here"}, {"type": "image_url", "image_url": {"url": URL}}]),
            id="content-parts",
        ),
]  # fmt: skip


@pytest.mark.parametrize("reply", CHAT_SHAPES)
def test_chat_image_found_in_every_shape(reply: dict[str, Any]) -> None:
    parsed = chat.parse(reply)
    assert parsed.image is not None
    assert decode_data_url(parsed.image) == IMG


@pytest.mark.parametrize(
    ("protocol", "reply"),
    [pytest.param(chat, *shape.values, id=f"chat-{shape.id}") for shape in CHAT_SHAPES]
    + [
        pytest.param(images, images_reply(IMG), id="images-b64"),
        pytest.param(images, {"data": [{"b64_json": URL}]}, id="images-data-url"),
    ]
    + [
        pytest.param(chat, chat_reply(f"Look: {URL}{end}and more"), id=f"chat-ends-at-{end!r}")
        for end in ")\t\n\"' "
    ],
)
def test_a_lifted_image_reads_as_the_whole_parse_does(protocol: WireProtocol, reply: Any) -> None:
    raw = json.dumps(reply).encode()
    document, lifted = lift_image(raw)
    assert lifted == IMG
    base64_length = len(URL.split(",", 1)[1])
    assert LIFTED.encode() in document
    assert len(document) == len(raw) - base64_length + len(LIFTED)
    whole, light = protocol.parse(reply), protocol.parse(orjson.loads(document))
    assert (light.text, light.finish_reason, light.cost_usd) == (
        whole.text,
        whole.finish_reason,
        whole.cost_usd,
    )
    assert light.image and decode_data_url(light.image, lifted) == IMG


@pytest.mark.parametrize(
    "raw",
    [
        # Escaped slashes (as PHP writes JSON): only a full parse reads the base64 right.
        json.dumps(chat_reply(URL)).replace("/", "\\/").encode(),
        b'{"data": [{"b64_json": "' + URL.split(",", 1)[1].encode()[:8] + b'\\u0041"}]}',
        json.dumps(chat_reply("no picture, only base64, and data:image/ in words")).encode(),
    ],
)
def test_a_reply_that_cannot_be_lifted_is_left_whole(raw: bytes) -> None:
    assert lift_image(raw) == (raw, None)


def test_chat_markdown_text_survives_next_to_the_image() -> None:
    parsed = chat.parse(chat_reply(f"Here is your fox.\n![fox]({URL})\nEnjoy"))
    assert parsed.text == "Here is your fox.\n\nEnjoy"


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("https://cdn.example.test/out.png", "https://cdn.example.test/out.png"),
        ("Done: ![x](https://cdn.example.test/a.png)", "https://cdn.example.test/a.png"),
    ],
)
def test_chat_hosted_urls(content: str, url: str) -> None:
    assert chat.parse(chat_reply(content)).image == url


def test_chat_reads_cost_and_usage() -> None:
    parsed = chat.parse(
        chat_reply(URL, cost=0.042, usage={"prompt_tokens": 14, "total_tokens": 526, "x": "y"})
    )
    assert parsed.cost_usd == pytest.approx(0.042)
    assert parsed.usage == {"prompt_tokens": 14, "total_tokens": 526}


def test_chat_refusal_keeps_the_models_words() -> None:
    parsed = chat.parse(chat_reply("I can't create images of that person.", finish_reason="stop"))
    assert parsed.image is None
    assert parsed.text == "I can't create images of that person."


def test_chat_refusal_field_and_finish_reason() -> None:
    parsed = chat.parse(
        chat_reply(None, finish_reason="content_filter", message_extra={"refusal": "Not allowed."})
    )
    assert (parsed.image, parsed.text, parsed.finish_reason) == (
        None,
        "Not allowed.",
        "content_filter",
    )


def test_chat_link_in_a_refusal_is_not_an_image() -> None:
    parsed = chat.parse(chat_reply("Blocked, see https://policies.example.test/terms for details"))
    assert parsed.image is None


@pytest.mark.parametrize(
    "reply",
    [{}, {"choices": []}, {"choices": [{}]}, {"choices": [{"message": "oops"}]}, [], "text", None],
)
def test_chat_malformed(reply: Any) -> None:
    with pytest.raises(MalformedResponse):
        chat.parse(reply)


def test_images_b64_and_url() -> None:
    parsed = images.parse(images_reply(IMG, cost=0.1, usage={"total_tokens": 3}))
    assert parsed.image and decode_data_url(parsed.image) == IMG
    assert parsed.cost_usd == pytest.approx(0.1)
    hosted = images.parse(images_reply(url="https://cdn.example.test/a.png"))
    assert hosted.image == "https://cdn.example.test/a.png"


def test_images_b64_given_as_data_url() -> None:
    parsed = images.parse({"data": [{"b64_json": URL}]})
    assert parsed.image and decode_data_url(parsed.image) == IMG


def test_images_empty_data_is_no_image() -> None:
    assert images.parse({"data": []}).image is None


@pytest.mark.parametrize("reply", [{}, {"data": "x"}, [], None])
def test_images_malformed(reply: Any) -> None:
    with pytest.raises(MalformedResponse):
        images.parse(reply)


def test_broken_base64_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        decode_data_url("data:image/png;base64,@@@not-base64@@@")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"error": {"message": "Model(s) do not support /chat/completions", "type": "x"}},
         "Model(s) do not support /chat/completions"),
        ({"detail": [{"loc": ["body", "n"], "msg": "too big", "type": "v"}]}, "too big"),
        ({"error": "Insufficient credits"}, "Insufficient credits"),
        ({"detail": "Rate limited", "error_code": "RATE_LIMITED", "retry_after": 3}, "Rate limited"),
        ("<html>Bad gateway</html>", "<html>Bad gateway</html>"),
    ],
)  # fmt: skip
def test_error_detail_reads_every_documented_shape(body: Any, detail: str) -> None:
    assert error_detail(body) == detail


@pytest.mark.parametrize(
    ("cost", "read"),
    [(0.067, 0.067), (0, 0.0), (-5, None), (float("inf"), None), (True, None), ("0.1", None)],
)
def test_only_a_sane_cost_is_taken(cost: Any, read: float | None) -> None:
    """A negative cost from the upstream would lower a user's spend: it counts as no report."""
    assert chat.parse(chat_reply(URL, cost=cost)).cost_usd == read


def test_many_unclosed_markdown_images_are_read_in_linear_time() -> None:
    """`![` with no end, 100,000 times: the bounded pattern gives up 1,000 characters after each,
    where the old unbounded one rescanned the rest of the text from every one (29 s for this
    text on the development machine; now well under a second)."""
    text = "![" * 100_000 + " no picture here"
    parsed = chat.parse(chat_reply(text))
    assert parsed.image is None
    assert parsed.text == text.strip()
