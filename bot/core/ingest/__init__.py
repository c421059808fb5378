"""Documents in. The knowledge directory loaded (``knowledge``), cut into sentences and chunks
(``chunking``), and the lexical tokens BM25 and term overlap count (``lexical``); and articles
brought in from outside: ``fetch`` is the polite HTTP client (robots.txt, a user agent with a
contact address, public addresses only, a timeout and a size cap per page, a delay per host, bounded
redirects); ``extract`` turns a page, a PDF or a text file into an ``Article`` (its main text as
extracted, and its details); ``importer`` writes knowledge files atomically, one per article, and
knows when one is unchanged or a duplicate; ``feeds`` polls ``knowledge/feeds.yaml`` with
conditional requests.

The bottom floor: imports nothing else of the core (``bot.config`` for its settings). Every input
the importer turns down raises ``Refused`` with one line saying why; nothing has changed then.
"""

from __future__ import annotations


class Refused(ValueError):
    """An input the importer turns down: the message is one line a maintainer can act on."""
