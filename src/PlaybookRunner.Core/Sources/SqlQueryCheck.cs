namespace PlaybookRunner.Core.Sources;

/// <summary>
/// A source query is one read: a single statement that starts with SELECT, WITH or VALUES. A second
/// statement (ATTACH, VACUUM INTO, COMMIT; COPY ... TO PROGRAM, SET ...) could write files, change the
/// session or run programs on the database server, so it is refused at validate and again before the
/// query runs. The scan knows SQL's quoted strings and identifiers and both kinds of comment.
/// </summary>
internal static class SqlQueryCheck
{
    /// <summary>
    /// Null when <paramref name="query"/> is one read-only statement of the <paramref name="postgres"/> or
    /// SQLite dialect; otherwise why not. Each dialect is lexed as its server does: PostgreSQL has dollar
    /// quotes, SQLite has none (<c>x$b$</c> is a name there). A backslash inside a PostgreSQL string is
    /// refused: whether it escapes a quote depends on the server (E'' strings, standard_conforming_strings),
    /// and a check that reads a string differently from the server can be walked around.
    /// </summary>
    public static string? Problem(string query, bool postgres)
    {
        var code = new System.Text.StringBuilder();
        var statements = 0;
        var sawToken = false;
        for (var i = 0; i < query.Length; i++)
        {
            var c = query[i];
            if (c == '-' && i + 1 < query.Length && query[i + 1] == '-')
            {
                while (i < query.Length && query[i] != '\n')
                {
                    i++;
                }

                code.Append(' ');
                continue;
            }

            if (c == '/' && i + 1 < query.Length && query[i + 1] == '*')
            {
                var end = query.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return "the query has a comment that is not closed";
                }

                i = end + 1;
                code.Append(' ');
                continue;
            }

            if (postgres && c is 'E' or 'e' or 'U' or 'u' && i + 1 < query.Length && query[i + 1] is '\'' or '&' && (i == 0 || !(char.IsLetterOrDigit(query[i - 1]) || query[i - 1] is '_' or '$')))
            {
                return "escape strings (E'...', U&'...') are not allowed in a postgres source query";
            }

            if (c is '\'' or '"' or '`' or '[' && (postgres ? c is '\'' or '"' : true))
            {
                var close = c == '[' ? ']' : c;
                var j = i + 1;
                while (j < query.Length && !(query[j] == close && !(j + 1 < query.Length && query[j + 1] == close && close != ']')))
                {
                    j += query[j] == close ? 2 : 1;
                }

                if (j >= query.Length)
                {
                    return "the query has a quoted text that is not closed";
                }

                if (postgres && query.AsSpan(i, j - i).Contains('\\'))
                {
                    return "a backslash in a quoted text is not allowed in a postgres source query (whether it escapes depends on the server)";
                }

                code.Append(c == '\'' ? " 'text' " : " name ");
                sawToken = true;
                i = j;
                continue;
            }

            if (postgres && c == '$' && PostgresDollarQuote(query, i) is { } dollar)
            {
                var end = query.IndexOf(dollar, i + dollar.Length, StringComparison.Ordinal);
                if (end < 0)
                {
                    return "the query has a quoted text that is not closed";
                }

                code.Append(" 'text' ");
                sawToken = true;
                i = end + dollar.Length - 1;
                continue;
            }

            if (c == ';')
            {
                if (sawToken)
                {
                    statements++;
                }

                sawToken = false;
                code.Append(' ');
                continue;
            }

            if (!char.IsWhiteSpace(c))
            {
                sawToken = true;
            }

            code.Append(c);
        }

        if (sawToken)
        {
            statements++;
        }

        if (statements != 1)
        {
            return statements == 0 ? "the query is empty" : $"the query has {statements} statements; a source query is one SELECT (no ';' between statements)";
        }

        var first = code.ToString().TrimStart(' ', '\t', '\r', '\n', '(').Split([' ', '\t', '\r', '\n', '('], 2)[0].ToUpperInvariant();
        return first is "SELECT" or "WITH" or "VALUES"
            ? null
            : $"a source query must start with SELECT, WITH or VALUES, not '{first}': it only reads";
    }

    private static string? PostgresDollarQuote(string query, int start)
    {
        var end = query.IndexOf('$', start + 1);
        if (end < 0)
        {
            return null;
        }

        var tag = query[(start + 1)..end];
        return tag.All(ch => char.IsLetterOrDigit(ch) || ch == '_') && (tag.Length == 0 || !char.IsDigit(tag[0])) ? query[start..(end + 1)] : null;
    }
}
