"""Which email domains name a company (pure, stdlib only).

Reply habits are pooled per company domain to plan send times; pooling every
gmail.com lead together would mix strangers, so consumer mail domains count as
no company at all.
"""

from __future__ import annotations

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google
        "gmail.com",
        "googlemail.com",
        # Yahoo
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.in",
        "yahoo.co.jp",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.com.br",
        "yahoo.com.au",
        "ymail.com",
        "rocketmail.com",
        # Microsoft
        "outlook.com",
        "outlook.fr",
        "outlook.de",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.es",
        "hotmail.it",
        "live.com",
        "live.co.uk",
        "live.fr",
        "msn.com",
        # Apple
        "icloud.com",
        "me.com",
        "mac.com",
        # AOL and other US consumer providers
        "aol.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        # Privacy-focused
        "proton.me",
        "protonmail.com",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "hey.com",
        "fastmail.com",
        # Europe
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "gmx.at",
        "gmx.ch",
        "gmx.fr",
        "web.de",
        "t-online.de",
        "freenet.de",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "libero.it",
        "virgilio.it",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "btinternet.com",
        "mail.com",
        # Russia
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
        "rambler.ru",
        # Asia
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        # Others
        "zoho.com",
        "zohomail.com",
        "uol.com.br",
        "bol.com.br",
    }
)


def company_domain(email: str) -> str | None:
    """The lowercased domain of ``email``; None for a free-mail domain or no domain."""
    _, at, domain = email.strip().rpartition("@")
    # A trailing dot is the same DNS name ("example.com." is "example.com").
    domain = domain.lower().rstrip(".")
    if not at or not domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain
