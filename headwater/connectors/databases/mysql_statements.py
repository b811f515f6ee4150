"""Which MySQL and MariaDB statements a read-only query may run, judged by a real SQL tokenizer.

The server's read-only transaction refuses writes to tables, but not `SELECT ... INTO OUTFILE`,
`INTO DUMPFILE` (files on the database host) or `INTO @var`. So the statement is tokenized with
sqlglot's MySQL tokenizer, which follows the server's lexical rules (`#` and `-- ` comments, `/* */`
without nesting, backslash escapes in strings): any `INTO` outside strings and comments, any
executable comment (`/*! ... */`, `/*M! ... */`, which the server runs), and more than one statement
are refused. The session's `sql_mode` is kept free of the modes that change those lexical rules
(`LEXICAL_MODES`), so the server reads the statement exactly as the tokenizer did.
"""

from __future__ import annotations

import re

from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from headwater.errors import InvalidInput, PermissionDenied

#: sql_mode flags (and the combinations that imply them) under which the server lexes differently.
LEXICAL_MODES = frozenset(
    {
        "ANSI_QUOTES",
        "NO_BACKSLASH_ESCAPES",
        "ANSI",
        "ORACLE",
        "MSSQL",
        "DB2",
        "POSTGRESQL",
        "MAXDB",
        "MYSQL323",
        "MYSQL40",
    }
)

# The server ends a `--` comment's opening only at ASCII space or control characters; Python's
# notion of whitespace is wider, so `--` before any other space character is refused as ambiguous.
_AMBIGUOUS_DASHES = re.compile(r"--(?=[^\x00-\x7f])")


def reading_sql_mode(current: str) -> str:
    """The session's `sql_mode` without the flags that change how the server splits a statement."""
    return ",".join(mode for mode in current.split(",") if mode and mode.strip().upper() not in LEXICAL_MODES)


def check_statement(text: str) -> str:
    """`text` (one statement, no trailing `;`) if it writes nothing outside tables; else a 4xx error naming why."""
    for match in _AMBIGUOUS_DASHES.finditer(text):
        if text[match.end()].isspace():
            raise PermissionDenied("queries may not put a non-ASCII space after '--': write '-- ' for a comment")
    try:
        tokens = MySQL().tokenizer().tokenize(text)
    except TokenError:
        raise InvalidInput("sql: the statement cannot be read (an unclosed string, identifier or comment?)") from None
    last = max((i for i, t in enumerate(tokens) if t.token_type != TokenType.SEMICOLON), default=-1)
    for index, token in enumerate(tokens):
        for comment in token.comments:
            if comment.startswith(("!", "M!")):
                raise PermissionDenied("queries may not contain executable comments (/*! ... */ or /*M! ... */)")
        if token.token_type == TokenType.INTO:
            raise PermissionDenied("queries may not use INTO (OUTFILE, DUMPFILE or variables): they only return rows")
        if token.token_type == TokenType.SEMICOLON and index < last:
            raise PermissionDenied("queries run one statement: remove the ';' between statements")
    return text
