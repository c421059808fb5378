"""What maintainers do to the knowledge base from chat, shared by Discord and Telegram:
``/knowledge add <url>``, ``/knowledge list``, ``/knowledge remove <id>``.

Fetching, extracting and indexing run in a worker thread (``asyncio.to_thread``), never on the event
loop; questions keep being answered from the live index meanwhile. Each reply is short text saying
what was added or why not. A refusal, a busy index or a failed update has changed nothing.
"""

from __future__ import annotations

import asyncio
import logging

from bot.core.engine import Engine, IndexBusy, Refused
from bot.service.text import cut, provenance, sentence

logger = logging.getLogger(__name__)

BUSY = "Another reindex is running, so nothing was changed; try again when it finishes."
NOT_A_LINK = "Give a web address starting with http:// or https://, like /knowledge add https://example.com/story."
LISTED = 25


async def add_link(engine: Engine, url: str) -> str:
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        return NOT_A_LINK
    logger.info("knowledge add %s", url)
    try:
        [outcome] = await asyncio.to_thread(engine.add, [url])
    except IndexBusy:
        return BUSY
    except Exception as error:
        logger.error("adding %s failed; nothing was changed", url, exc_info=error)
        return cut(f"The index update failed ({type(error).__name__}: {error}); nothing was added.", 1500)
    logger.info("knowledge add %s: %s", url, outcome.line())
    link = f"\n{outcome.article.url}" if outcome.changed and outcome.article and outcome.article.url else ""
    return sentence(cut(outcome.line(), 1500)) + link


async def document_lines(engine: Engine) -> list[str]:
    """One line per document: its id (for ``remove``), title and provenance."""
    documents = await asyncio.to_thread(engine.documents)
    lines = [f"{doc.doc_id} — {cut(doc.title, 120)} ({provenance(doc)})" for doc in documents[:LISTED]]
    if len(documents) > LISTED:
        lines.append(f"…and {len(documents) - LISTED} more (launchbot sources lists them all)")
    return lines or ["The knowledge base is empty."]


async def remove(engine: Engine, doc_id: str) -> str:
    doc_id = doc_id.strip()
    if not doc_id:
        return "Give the id of the document to remove (/knowledge list shows them)."
    logger.info("knowledge remove %s", doc_id)
    try:
        document, report = await asyncio.to_thread(engine.remove, doc_id)
    except IndexBusy:
        return BUSY
    except Refused as refused:  # no such document
        return sentence(cut(str(refused), 1500))
    except Exception as error:
        logger.error("removing %s failed; it was put back", doc_id, exc_info=error)
        return cut(f"The index update failed ({type(error).__name__}: {error}); nothing was removed.", 1500)
    return cut(
        f"Removed {doc_id} (“{document.title}”): the index now has {report.chunks} chunks. "
        "The file is kept in knowledge/.removed/.",
        1500,
    )
