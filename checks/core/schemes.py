"""The schemes and well-known ports people give, and what each carries: TLS at once or after an
upgrade in plain text."""

from __future__ import annotations

# Protocols that begin in plain text and switch to TLS on request (STARTTLS, STLS, AUTH TLS,
# the LDAP StartTLS operation, XMPP's <starttls/>, PostgreSQL's SSLRequest, MySQL's SSL flag).
STARTTLS_PROTOCOLS = ("smtp", "imap", "pop3", "ldap", "ftp", "xmpp", "postgres", "mysql")
# Schemes that name those protocols, and the port each implies.
STARTTLS_SCHEMES = {
    "smtp": ("smtp", 25),
    "submission": ("smtp", 587),
    "imap": ("imap", 143),
    "pop3": ("pop3", 110),
    "pop": ("pop3", 110),
    "ldap": ("ldap", 389),
    "ftp": ("ftp", 21),
    "ftpes": ("ftp", 21),
    "xmpp": ("xmpp", 5222),
    "postgres": ("postgres", 5432),
    "postgresql": ("postgres", 5432),
    "mysql": ("mysql", 3306),
    "mariadb": ("mysql", 3306),
}
STARTTLS_DEFAULT_PORT = {protocol: port for protocol, port in STARTTLS_SCHEMES.values()}
STARTTLS_DEFAULT_PORT["smtp"] = 25
# Ports where a server speaks first in plain text, or waits for the upgrade request.
STARTTLS_PORTS = {
    25: "smtp",
    587: "smtp",
    143: "imap",
    110: "pop3",
    389: "ldap",
    21: "ftp",
    5222: "xmpp",
    5432: "postgres",
    3306: "mysql",
}
# Ports where the same protocols start with TLS at once.
IMPLICIT_TLS_PORTS = {465: "smtp", 993: "imap", 995: "pop3", 636: "ldap", 990: "ftp", 5223: "xmpp"}

# Schemes whose connection starts with TLS, and the port the scheme implies.
TLS_PORTS = {
    "https": 443,
    "wss": 443,
    "davs": 443,
    "imaps": 993,
    "pop3s": 995,
    "smtps": 465,
    "ldaps": 636,
    "ftps": 990,
    "nntps": 563,
    "ircs": 6697,
    "mqtts": 8883,
    "amqps": 5671,
    "xmpps": 5223,
}
# What each of those schemes carries inside TLS.
TLS_PROTOCOL = {
    "imaps": "imap",
    "pop3s": "pop3",
    "smtps": "smtp",
    "ldaps": "ldap",
    "ftps": "ftp",
    "xmpps": "xmpp",
    "nntps": "nntp",
    "ircs": "irc",
    "mqtts": "mqtt",
    "amqps": "amqp",
}
# Everybody knows https and wss mean 443; for the rest the assumed port deserves a note.
OBVIOUS_PORT = frozenset({"https", "wss"})
# Plain-text schemes that have a TLS sibling worth suggesting (and no upgrade we perform).
TLS_VARIANT = {
    "ws": "wss",
    "nntp": "nntps",
    "irc": "ircs",
    "mqtt": "mqtts",
    "amqp": "amqps",
    "dav": "davs",
}

# How each protocol is written in prose (a name, the same in every language).
PROTOCOL_NAMES = {
    "https": "HTTPS",
    "smtp": "SMTP",
    "imap": "IMAP",
    "pop3": "POP3",
    "ldap": "LDAP",
    "ftp": "FTP",
    "xmpp": "XMPP",
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "nntp": "NNTP",
    "irc": "IRC",
    "mqtt": "MQTT",
    "amqp": "AMQP",
}


def protocol_name(protocol: str) -> str:
    """`protocol` as people write it (`smtp` -> SMTP, `postgres` -> PostgreSQL)."""
    return PROTOCOL_NAMES.get(protocol, protocol.upper())
