using Npgsql;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

/// <summary>A workspace's connection string never picks up the operator's PGPASSWORD or password file.</summary>
public sealed class PostgresConnectionsTests
{
    [Theory]
    [InlineData("Host=127.0.0.3;Username=ci;Database=prod")]
    [InlineData("Host=127.0.0.3;Username=ci;Database=prod;Passfile=/home/operator/.pgpass")]
    [InlineData("Host=127.0.0.3;Username=ci;Database=prod;Password=")]
    public void Without_a_password_it_gets_a_worthless_one_and_no_password_file(string connection)
    {
        var hardened = new NpgsqlConnectionStringBuilder(PostgresConnections.Harden(connection));

        Assert.Equal("no-password-given", hardened.Password);
        Assert.False(File.Exists(hardened.Passfile));
        Assert.DoesNotContain(".pgpass", hardened.Passfile, StringComparison.Ordinal);
        Assert.Equal(("127.0.0.3", "ci", "prod"), (hardened.Host, hardened.Username, hardened.Database));
        // The same string every time: Npgsql pools connections by their string.
        Assert.Equal(PostgresConnections.Harden(connection), PostgresConnections.Harden(connection));
    }

    [Fact]
    public void A_password_written_through_a_secret_is_kept()
    {
        var hardened = new NpgsqlConnectionStringBuilder(PostgresConnections.Harden("Host=db;Username=u;Password=from-env"));
        Assert.Equal("from-env", hardened.Password);
    }
}
