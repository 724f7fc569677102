"""Hostile URLs, generated: internal addresses in every notation, userinfo tricks, bad schemes, IDN."""

from __future__ import annotations

import itertools

# 127.0.0.1 and the cloud metadata address written the ways resolvers accept them
INTERNAL_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "017700000001",
    "localhost",
    "localhost.",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "169.254.169.254",
    "2852039166",
    "0xa9fea9fe",
    "0251.0376.0251.0376",
    "[fd00:ec2::254]",
    "[fe80::1]",
    "0.0.0.0",
    "0",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "224.0.0.1",
    "240.0.0.1",
]
SCHEMES = ["https", "http"]
TRICKS = [
    "https://life.bank.example@127.0.0.1/",
    "https://life.bank.example:pw@169.254.169.254/",
    "https://127.0.0.1#@life.bank.example/",
    "https://127.0.0.1\\@life.bank.example/",
    "https://life.bank.example\\@127.0.0.1/",
    "https://life.bank.example%40127.0.0.1/",
    "https://life.bank.example.evil.example/",
    "https://evilbank.example/",
    "https:life.bank.example/",
    "https:/life.bank.example/",
    "//life.bank.example/",
    " https://life.bank.example/",
    "https://life.bank.example/\n",
    "https://life.bank.example:8443/",
    "https://life.bank.example:99999/",
    "https://[::1/",
    "http://life.bank.example/",
    "javascript:alert(1)//https://life.bank.example/",
    "JaVaScRiPt://life.bank.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
    "ftp://life.bank.example/",
    "vbscript://life.bank.example/",
    "https://lífe.bank.example/",
    "https://ｌｏｃａｌｈｏｓｔ/",
    "https://bank。example/",
    "https://xn--80ak6aa92e.example/",  # punycode; .example never resolves, so no DNS decides this
    "https://" + "a" * 500 + ".bank.example/",
    "",
]


def hostile_urls() -> list[str]:
    """Every URL the guards must refuse, whatever it is for (fetch or redirect)."""
    urls = [f"{s}://{h}{p}" for s, h, p in itertools.product(SCHEMES, INTERNAL_HOSTS, ["/", ":8080/x"])]
    return urls + TRICKS
