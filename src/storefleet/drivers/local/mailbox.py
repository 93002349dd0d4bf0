"""The mail a local store sent: the StoreFleet must-use plugin writes each
message as a JSON file into the store's mailbox directory instead of handing
it to a mail server, so a merchant trying the platform on one machine sees
the "new order" email in the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from storefleet.config import Settings
from storefleet.names import require_valid_store_uid


@dataclass(frozen=True)
class MailMessage:
    id: str
    at: str
    to: list[str]
    subject: str
    text: str


def mailbox_path(settings: Settings, store_uid: str) -> Path:
    return settings.stores_path / require_valid_store_uid(store_uid) / "mail"


def read_mailbox(settings: Settings, store_uid: str, *, limit: int = 50) -> list[MailMessage]:
    """The newest ``limit`` messages, newest first."""
    box = mailbox_path(settings, store_uid)
    if not box.is_dir():
        return []
    names = sorted((p for p in box.iterdir() if p.suffix == ".json"), reverse=True)[:limit]
    out: list[MailMessage] = []
    for path in names:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a file the store broke is not the platform's error
        body = str(data.get("body", ""))
        out.append(
            MailMessage(
                id=path.stem,
                at=str(data.get("at", "")),
                to=[str(t) for t in data.get("to", [])][:20],
                subject=str(data.get("subject", ""))[:500],
                text=_text(body) if "<" in body else body,
            )
        )
    return out


class _Text(HTMLParser):
    _SKIP = {"style", "script", "head", "title"}
    _BREAK = {"br", "p", "div", "tr", "h1", "h2", "h3", "h4", "li", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _text(html: str) -> str:
    """An HTML email as plain text (the dashboard shows text, never the
    store's HTML)."""
    parser = _Text()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line)
    return text[:20_000]
