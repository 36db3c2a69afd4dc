using Npgsql;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// A connection string written in a workspace must not pick up the operator's own credentials: Npgsql
/// falls back to PGPASSWORD and to a password file (~/.pgpass, PGPASSFILE or a Passfile key) when the
/// string names no password, and would send them to whatever host the author wrote. Here a string
/// without a password gets a placeholder (sent only if the server asks, and worthless), and no password
/// file is ever read. Credentials come through ${env:NAME}, which the operator allows and binds.
/// </summary>
internal static class PostgresConnections
{
    // One fixed path in the tool's own (trusted) folder, where no password file is: the hardened string
    // must be the same for the same input, or Npgsql would open a new connection pool for every call.
    private static readonly string NoPassfile = Path.Combine(AppContext.BaseDirectory, "playbook-no-passfile");

    /// <summary>The connection string with the fallbacks closed.</summary>
    public static string Harden(string connection)
    {
        var builder = new NpgsqlConnectionStringBuilder(connection);
        builder.Passfile = NoPassfile;
        if (string.IsNullOrEmpty(builder.Password))
        {
            builder.Password = "no-password-given";
        }

        return builder.ToString();
    }
}
