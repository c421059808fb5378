"""Articles in from outside: a link, a saved page, a PDF, a text file, or a news feed.

``fetch`` is the polite HTTP client (robots.txt, a user agent with a contact address, a timeout and
a size cap per page, a delay per host, bounded redirects); ``extract`` turns a page, a PDF or a text
file into an ``Article`` (its main text as extracted, and its details); ``importer`` writes knowledge
files atomically, one per article, and knows when one is unchanged or a duplicate; ``feeds`` polls
``knowledge/feeds.yaml`` with conditional requests. Plain synchronous Python, no chat import.

Every input turned down raises ``Refused`` with one line saying why; nothing has changed then.
"""

from __future__ import annotations


class Refused(ValueError):
    """An input the importer turns down: the message is one line a maintainer can act on."""
