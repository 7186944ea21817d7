"""The fake Bedrock validates image and document blocks as Bedrock does, through a real boto3 client (which
sends the bytes base64-encoded), and charges for them in its usage."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.bedrock_media import (
    MSG_DOCUMENT_NAME,
    MSG_DOCUMENT_NEEDS_TEXT,
    MSG_DUPLICATE_NAMES,
    MSG_INPUT_TOO_LONG,
    MSG_TOO_MANY_DOCUMENTS,
)
from tests.files_support import padded_pdf, pdf, picture

MODEL = "us.anthropic.claude-sonnet-4-6"
PNG = picture(64, 48)
GIF = picture(64, 48, "GIF")
PDF = pdf(2)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    server = FakeBedrock().start()
    server.add_model(MODEL)
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    fake.reset()
    fake.set_fallback(lambda request: Stream(["ok"]))
    made = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=fake.url,
                        aws_access_key_id="AKIDFAKE", aws_secret_access_key="fake-secret",
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=5))
    yield made
    made.close()


def image(data: bytes = PNG, fmt: str = "png") -> dict[str, Any]:
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def document(name: str = "Report", data: bytes = PDF, fmt: str = "pdf") -> dict[str, Any]:
    return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


TEXT = {"text": "What is this?"}


def error_of(client: Any, messages: list[dict[str, Any]]) -> str:
    with pytest.raises(ClientError) as caught:
        client.converse_stream(modelId=MODEL, messages=messages)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return str(caught.value.response["Error"]["Message"])


def test_valid_images_and_documents_are_answered(client: Any) -> None:
    messages = [user(image(), image(GIF, "gif"), document("Q3 report (final) [v2]"), document("Notes-1"), TEXT)]
    events = list(client.converse_stream(modelId=MODEL, messages=messages)["stream"])
    assert any("messageStop" in e for e in events)


@pytest.mark.parametrize(("messages", "expected"), [
    pytest.param([user(image(GIF, "png"), TEXT)],
                 "The model returned the following errors: messages.0.content.0.image.source.bytes: The image was "
                 "specified using the image/png media type, but the image appears to be a image/gif image",
                 id="gif-declared-png"),
    pytest.param([user(image(fmt="jpg"), TEXT)],
                 "1 validation error detected: Value 'jpg' at 'messages.0.member.content.0.member.image.format' "
                 "failed to satisfy constraint: Member must satisfy enum value set: [png, jpeg, gif, webp]",
                 id="format-not-in-enum"),
    pytest.param([user(TEXT, image(picture(8001, 10)))],
                 "The model returned the following errors: messages.0.content.1.image.source.bytes: At least one "
                 "of the image dimensions exceed max allowed size: 8000 pixels", id="more-than-8000-px"),
    pytest.param([user(image(PNG + b"\x00" * 3_940_000), TEXT)],
                 "The model returned the following errors: messages.0.content.0.image.source.bytes: image exceeds "
                 f"5 MB maximum: {math.ceil((len(PNG) + 3_940_000) / 3) * 4} bytes > 5242880 bytes",
                 id="more-than-5-mib-of-base64"),
    pytest.param([user(image(b"not an image"), TEXT)],
                 "The model returned the following errors: messages.0.content.0.image.source.bytes: Could not "
                 "process image", id="not-an-image"),
    pytest.param([user(document())], MSG_DOCUMENT_NEEDS_TEXT, id="document-without-text"),
    pytest.param([user(document("report.pdf"), TEXT)], MSG_DOCUMENT_NAME, id="dot-in-name"),
    pytest.param([user(document("two  spaces"), TEXT)], MSG_DOCUMENT_NAME, id="double-space-in-name"),
    pytest.param([user(document("Bericht für Q3"), TEXT)], MSG_DOCUMENT_NAME, id="non-ascii-name"),
    pytest.param([user(document(), document(), TEXT)], MSG_DUPLICATE_NAMES, id="duplicate-names"),
    pytest.param([user(*(document(f"Doc {i}") for i in range(6)), TEXT)], MSG_TOO_MANY_DOCUMENTS,
                 id="six-documents"),
    pytest.param([user(*(image() for _ in range(19)), document("A"), document("B"), TEXT)],
                 "The model returned the following errors: messages: too many images and documents: 19 + 2 > 20",
                 id="twenty-one-images-and-documents"),
    pytest.param([user(document(data=padded_pdf(4_600_000)), TEXT)],
                 "The document at messages.0.content.0 is larger than the maximum size of 4.5 MB.",
                 id="document-over-4.5-mb"),
    pytest.param([user(TEXT), {"role": "assistant", "content": [image(), {"text": "a picture"}]}, user(TEXT)],
                 "messages.1.content.0: You can only include images and documents if the role is user.",
                 id="image-in-assistant-turn"),
    pytest.param([user(*(image(picture(16, 16, noise=True, seed=i) + b"\x00" * 1_100_000)
                         for i in range(16)), TEXT)],
                 MSG_INPUT_TOO_LONG, id="body-over-20-mb"),
])
def test_invalid_media_gets_bedrocks_validation_error(fake: FakeBedrock, client: Any, messages: list[dict[str, Any]],
                                                      expected: str) -> None:
    assert error_of(client, messages) == expected
    assert [message for _request, message in fake.rejections] == [expected]


def test_usage_charges_images_by_pixels_and_documents_by_bytes(fake: FakeBedrock, client: Any) -> None:
    messages = [user(image(picture(750, 100)), document(), {"text": "abcd" * 10})]
    events = list(client.converse_stream(modelId=MODEL, messages=messages)["stream"])
    usage = next(e["metadata"]["usage"] for e in events if "metadata" in e)
    assert usage["inputTokens"] == 100 + math.ceil(len(PDF) / 4) + 10
    assert fake.calls[-1].size > len(PDF) * 4 // 3  # the body carries the bytes base64-encoded
